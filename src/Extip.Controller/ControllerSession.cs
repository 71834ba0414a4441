using Extip.Core.Concurrency;
using Extip.Controller.Mapping;
using Extip.Controller.Metrics;
using Extip.Controller.Reconcilers;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;
using Extip.Kubernetes.Events;
using Extip.Kubernetes.Queues;
using k8s;
using Microsoft.Extensions.Logging;

namespace Extip.Controller;

/// <summary>
/// What the leader does, from winning the election until losing it: rebuild the allocator from
/// what the API shows (reload first), then reconcile Services through a de-duplicating work
/// queue and keep IPClaims and pool status in step. A new session starts from scratch, so a
/// restart or a hand-over never depends on memory.
/// </summary>
internal sealed partial class ControllerSession
{
    private readonly Lock _gate = new();
    private readonly Allocator _allocator;
    private readonly Dictionary<ServiceKey, ServiceRequest> _requests = [];
    private readonly HashSet<Address> _assigned = [];

    // Services the reload gave an address they did not show yet: their first reconcile reports
    // it (event, metric) as new, as it would have been without the restart.
    private readonly HashSet<ServiceKey> _unreported = [];
    private readonly Wakeup _claimSignal;
    private readonly Wakeup _poolSignal;
    private readonly ILogger _logger;
    private PoolSet _pools = PoolSet.Empty;
    private readonly PoolLastGood _lastGood = new();

    public ControllerSession(IKubernetes client, ClusterView view, ControllerOptions options, ControllerMetrics metrics, EventRecorder events, ILogger logger)
    {
        Client = client;
        View = view;
        Options = options;
        Metrics = metrics;
        Events = events;
        _logger = logger;
        _allocator = new Allocator(new AllocatorOptions { ExternalIPs = options.ExternalIPs, StickyGrace = options.StickyGrace, Mask = options.Mask, MaskV6 = options.MaskV6 });
        Services = new ServiceReconciler(this);
        Claims = new ClaimReconciler(this);
        PoolStatus = new PoolStatusReconciler(this);
        PeerStatus = new PeerStatusReconciler(this);
        AgentLabels = new AgentLabelReconciler(this, logger);
        AgentSecrets = new AgentSecretsReconciler(this, logger);
        Agents = new AgentObservations(options.Time, options.Disruption, options.FenceMargin);
        Damping = new NodeDamping(options.Time, options.HoldDown);
        Signals = new NodeSignals(options.Time, options.NotReadyGrace);
        _claimSignal = new Wakeup(options.Time);
        _poolSignal = new Wakeup(options.Time);
    }

    /// <summary>What the Nodes themselves say (out-of-service taint, Ready) beside the agents' Leases.</summary>
    public NodeSignals Signals { get; }

    public ILogger Logger => _logger;

    /// <summary>Agent liveness as this session observed it (on its own clock).</summary>
    public AgentObservations Agents { get; }

    /// <summary>Route-flap damping: which nodes just came back and wait before they get new claims.</summary>
    public NodeDamping Damping { get; }

    public IKubernetes Client { get; }

    public ClusterView View { get; }

    public ControllerOptions Options { get; }

    public ControllerMetrics Metrics { get; }

    public EventRecorder Events { get; }

    public WorkQueue<string> Queue { get; } = new();

    public ServiceReconciler Services { get; }

    public ClaimReconciler Claims { get; }

    public PoolStatusReconciler PoolStatus { get; }

    /// <summary>BGPPeer status, written in the pool status loop (on BGPPeer, IPNode and Node changes too).</summary>
    public PeerStatusReconciler PeerStatus { get; }

    public AgentLabelReconciler AgentLabels { get; }

    /// <summary>Which Secrets the agents may read: the heartbeat key and the BGPPeers' password Secrets, by name.</summary>
    public AgentSecretsReconciler AgentSecrets { get; }

    /// <summary>Set once the allocator holds what the API showed at start.</summary>
    public bool Reloaded { get; private set; }

    public async Task RunAsync(CancellationToken ct)
    {
        await View.ReadyAsync(ct);

        // Subscribe before reloading: a Service deleted between the reload and the first
        // reconcile must still be seen, or its address would stay held.
        View.Services.Changed += OnService;
        View.Pools.Changed += OnPool;
        View.Namespaces.Changed += OnNamespace;
        View.Leases.Changed += OnLease;
        View.Nodes.Changed += OnNode;
        View.EndpointSlices.Changed += OnEndpoints;
        View.Claims.Changed += OnClaim;
        View.IpNodes.Changed += AgentLabels.OnIpNode;
        View.IpNodes.Changed += OnPeerInput;
        View.IpNodes.Changed += OnLinks;
        View.Peers.Changed += OnPeerInput;
        View.Peers.Changed += AgentSecrets.OnPeer;
        View.Nodes.Changed += OnPeerInput;

        // Every agent counts as just seen: a session (a new leader, or one that has just got the
        // API server back) gives the agents a Lease duration to renew before anything moves.
        foreach (var lease in View.Leases.Items)
        {
            Agents.Observe(lease);
        }

        try
        {
            LoadPools();
            Reload();
            Reloaded = true;
            foreach (var s in View.Services.Items)
            {
                Queue.Add(Kubernetes.Client.Resources.KeyOf(s));
            }

            foreach (var key in Assignments().Keys)
            {
                Queue.Add(key.ToString());
            }

            RequestClaimSync();
            RequestPoolStatus();
            var workers = Enumerable.Range(0, Options.Workers).Select(_ => WorkAsync(ct)).ToList();
            await Task.WhenAll([.. workers, ClaimLoopAsync(ct), PoolLoopAsync(ct), AgentLabels.RunAsync(ct), AgentSecrets.RunAsync(ct)]);
        }
        finally
        {
            View.Services.Changed -= OnService;
            View.Pools.Changed -= OnPool;
            View.Namespaces.Changed -= OnNamespace;
            View.Leases.Changed -= OnLease;
            View.Nodes.Changed -= OnNode;
            View.EndpointSlices.Changed -= OnEndpoints;
            View.IpNodes.Changed -= OnPeerInput;
            View.IpNodes.Changed -= OnLinks;
            View.Peers.Changed -= OnPeerInput;
            View.Peers.Changed -= AgentSecrets.OnPeer;
            View.Nodes.Changed -= OnPeerInput;
            View.Claims.Changed -= OnClaim;
            View.IpNodes.Changed -= AgentLabels.OnIpNode;
        }
    }

    /// <summary>Reload first: every Service gets back what its status (and the claims) show, before anything new is handed out.</summary>
    private void Reload()
    {
        var requests = View.Services.Items
            .Where(s => ServiceMapping.IsOurs(s, Options))
            .Select(s => ServiceMapping.ToRequest(s, View.NamespaceLabels(s.Metadata.NamespaceProperty), AcceptedExternalIps(new ServiceKey(s.Metadata.NamespaceProperty, s.Metadata.Name)), Options))
            .ToList();
        lock (_gate)
        {
            var results = _allocator.AssignAll(requests);
            foreach (var r in requests)
            {
                _requests[r.Key] = r;
                if (results.TryGetValue(r.Key, out var result) && IsNew(r, result))
                {
                    _unreported.Add(r.Key);
                }
            }

            foreach (var h in _allocator.Held())
            {
                _assigned.Add(h.Address);
            }
        }

        LogReloaded(_logger, requests.Count, _allocator.Held().Count);
    }

    /// <summary>
    /// Rebuilds the pools from the informer's cache. Reading the cache and installing the result
    /// happen under one lock: two loads that race (the session's first, an IPPool event's) must
    /// not let the one that read the older cache install last.
    /// </summary>
    public void LoadPools()
    {
        int count;
        lock (_gate)
        {
            var items = View.Pools.Items.ToList();
            var set = PoolSet.Build(items.Select(_lastGood.Entry));
            _lastGood.Served(items, set);
            _pools = set;
            _allocator.SetPools(set);
            count = set.Pools.Count;
        }

        LogPools(_logger, count);
    }

    public AllocationResult Assign(ServiceRequest request)
    {
        AllocationResult r;
        lock (_gate)
        {
            r = _allocator.Assign(request);
            _requests[request.Key] = request;
            if (_unreported.Remove(request.Key) && !r.Changed && IsNew(request, r))
            {
                r = r with { Changed = true };
            }
            foreach (var a in r.LoadBalancer.Concat(r.ExternalIPs))
            {
                _assigned.Add(a.Address);
            }
        }

        if (r.Changed)
        {
            RequestClaimSync();
            RequestPoolStatus();
        }

        // Services that lost an address to this one's explicit request get another (or are refused).
        foreach (var d in r.Displaced)
        {
            Queue.Add(d.ToString());
        }

        return r;
    }

    private static bool IsNew(ServiceRequest request, AllocationResult result)
    {
        var shown = request.CurrentAddresses.Concat(request.CurrentExternalIPs).ToHashSet(StringComparer.Ordinal);
        return result.LoadBalancer.Concat(result.ExternalIPs).Any(a => !shown.Contains(a.Address.ToString()));
    }

    /// <summary>The Service's new address could not be written: its next reconcile reports it as new.</summary>
    public void ReportLater(ServiceKey key)
    {
        lock (_gate)
        {
            _unreported.Add(key);
        }
    }

    public void Release(ServiceKey key)
    {
        bool released;
        lock (_gate)
        {
            _unreported.Remove(key);
            released = _allocator.Release(key);
            _requests.Remove(key);
        }

        if (released)
        {
            RequestClaimSync();
            RequestPoolStatus();
        }
    }

    public bool Holds(ServiceKey key)
    {
        lock (_gate)
        {
            return _allocator.LoadBalancerOf(key).Count > 0 || _allocator.ExternalOf(key).Count > 0;
        }
    }

    /// <summary>An address this controller handed out at some point (so it may clear it from a Service).</summary>
    public bool WasOurs(string ip)
    {
        lock (_gate)
        {
            return Address.TryParse(ip, out var a) && _assigned.Contains(a);
        }
    }

    /// <summary>External IPs of the Service that its IPClaims show accepted: the reload keeps them first.</summary>
    public IReadOnlyCollection<string> AcceptedExternalIps(ServiceKey key)
    {
        if (View.Services.Get(key.ToString())?.Spec?.ExternalIPs is not { Count: > 0 })
        {
            return [];
        }

        var owner = key.ToString();
        return View.Claims.Items.Where(c => c.Spec.Owners.Contains(owner)).Select(c => c.Spec.Address).ToHashSet(StringComparer.Ordinal);
    }

    public (List<ClaimSource> Held, PoolSet Pools) Snapshot()
    {
        lock (_gate)
        {
            var held = _allocator.Held().Select(h => new ClaimSource(h.Address, h.Pool, h.PrefixLength,
                h.Holders.Select(k => new Owner(k, _requests.TryGetValue(k, out var r) ? r.ExternalTrafficPolicy : TrafficPolicy.Cluster)).ToList())).ToList();
            return (held, _pools);
        }
    }

    public (IReadOnlyList<PoolUsage> Usage, PoolSet Pools) PoolState()
    {
        lock (_gate)
        {
            return (_allocator.Usage(), _pools);
        }
    }

    /// <summary>The spec (as JSON) and generation the pool last served validly, for its status.</summary>
    public (string Json, long Generation)? LastValidPool(string pool)
    {
        lock (_gate)
        {
            return _lastGood.Of(pool);
        }
    }

    public IReadOnlyDictionary<ServiceKey, IReadOnlyList<Assignment>> Assignments()
    {
        lock (_gate)
        {
            return _allocator.Services.ToDictionary(k => k, k => (IReadOnlyList<Assignment>)[.. _allocator.LoadBalancerOf(k), .. _allocator.ExternalOf(k)]);
        }
    }

    public void RequestClaimSync() => _claimSignal.Set();

    public void RequestPoolStatus() => _poolSignal.Set();

    private async Task WorkAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            string key;
            try
            {
                key = await Queue.TakeAsync(ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await Services.ReconcileAsync(key, ct);
                LogReconciled(_logger, key);
                Queue.Forget(key);
                Metrics.Reconciles.WithLabels("service", "ok").Inc();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A worker must survive any failure of one key: the key is retried with backoff.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Metrics.Reconciles.WithLabels("service", "retry").Inc();
                LogRetry(_logger, "Service", key, $"{e.GetType().Name}: {e.Message}");
                Queue.AddRateLimited(key);
            }
            finally
            {
                Queue.Done(key);
            }
        }
    }

    private async Task ClaimLoopAsync(CancellationToken ct)
    {
        var backoff = new Kubernetes.Informers.Backoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(10));
        DateTimeOffset? nextExpiry = null;
        var lastPass = TimeSpan.Zero;
        while (!ct.IsCancellationRequested)
        {
            // Wake right after the earliest agent Lease runs out: that is when its claims move.
            var woke = await _claimSignal.NextAsync(nextExpiry is { } at ? Max(TimeSpan.Zero, at - Options.Time.GetUtcNow() + TimeSpan.FromMilliseconds(5)) : Timeout.InfiniteTimeSpan, ct);
            if (woke == WakeReason.Stopped)
            {
                return;
            }

            var expired = woke == WakeReason.TimedOut;

            if (expired && !Claims.LivenessChanged(out var renewed))
            {
                // The Lease that was due has been renewed: nothing moves; wait for the next one.
                nextExpiry = renewed;
                continue;
            }

            try
            {
                // A pause gathers a burst of changes into one pass over the claims: twice as long
                // as the last pass took, so passes never take more than a third of the time. A
                // Lease running out skips it: that is when claims must move at once.
                if (!expired)
                {
                    await Task.Delay(Clamp(lastPass * 2, ClaimDebounce, TimeSpan.FromMilliseconds(500)), Options.Time, ct);
                }

                var started = Options.Time.GetUtcNow();
                nextExpiry = await Claims.SyncAsync(ct);
                lastPass = Options.Time.GetUtcNow() - started;
                backoff.Reset();
                Metrics.Reconciles.WithLabels("claims", "ok").Inc();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The claim loop must outlive any failure; it retries with backoff.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Metrics.Reconciles.WithLabels("claims", "retry").Inc();
                LogRetry(_logger, "IPClaims", "*", e.Message);
                await DelayQuietly(backoff.Next(), ct);
                RequestClaimSync();
            }
        }
    }

    private async Task PoolLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await NextPoolChangeAsync(ct);
                await Task.Delay(TimeSpan.FromMilliseconds(100), Options.Time, ct);
                await PoolStatus.SyncAsync(ct);
                await PeerStatus.SyncAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Pool status is retried after any failure.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogRetry(_logger, "IPPool status", "*", e.Message);
                await DelayQuietly(TimeSpan.FromSeconds(1), ct);
                RequestPoolStatus();
            }
        }
    }

    /// <summary>
    /// A request for pool status, or the moment an address kept for a deleted Service is freed:
    /// the pool's reserved count drops then, with no event to say so.
    /// </summary>
    private async Task NextPoolChangeAsync(CancellationToken ct)
    {
        DateTimeOffset? expiry;
        lock (_gate)
        {
            expiry = _allocator.NextReservationExpiry;
        }

        // Until asked, or until the earliest address reservation runs out.
        var wait = expiry is { } at ? Max(TimeSpan.Zero, at - Options.Time.GetUtcNow()) : Timeout.InfiniteTimeSpan;
        if (await _poolSignal.NextAsync(wait, ct) == WakeReason.Stopped)
        {
            throw new OperationCanceledException(ct);
        }
    }

    private static readonly TimeSpan ClaimDebounce = TimeSpan.FromMilliseconds(20);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Clamp(TimeSpan v, TimeSpan min, TimeSpan max) => v < min ? min : v > max ? max : v;

    private async Task DelayQuietly(TimeSpan t, CancellationToken ct)
    {
        try
        {
            await Task.Delay(t, Options.Time, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void OnService(k8s.WatchEventType type, k8s.Models.V1Service svc, k8s.Models.V1Service? old)
    {
        LogServiceEvent(_logger, Kubernetes.Client.Resources.KeyOf(svc), type, svc.Metadata.ResourceVersion);
        Queue.Add(Kubernetes.Client.Resources.KeyOf(svc));
    }

    private void OnPeerInput<T>(k8s.WatchEventType type, T item, T? old) => RequestPoolStatus();

    private void OnPool(k8s.WatchEventType type, Kubernetes.Models.IpPool pool, Kubernetes.Models.IpPool? old)
    {
        LogPoolEvent(_logger, pool.Metadata.Name, type, pool.Metadata.Generation ?? 0, old?.Metadata.Generation ?? -1);
        if (old is not null && type != k8s.WatchEventType.Deleted && old.Metadata.Generation == pool.Metadata.Generation && old.Metadata.Generation is not null)
        {
            return;
        }

        LoadPools();
        foreach (var s in View.Services.Items)
        {
            Queue.Add(Kubernetes.Client.Resources.KeyOf(s));
        }

        RequestClaimSync();
        RequestPoolStatus();
    }

    private void OnNamespace(k8s.WatchEventType type, k8s.Models.V1Namespace ns, k8s.Models.V1Namespace? old)
    {
        if (old is not null && LabelsEqual(old.Metadata.Labels, ns.Metadata.Labels))
        {
            return;
        }

        foreach (var s in View.Services.Items.Where(s => s.Metadata.NamespaceProperty == ns.Metadata.Name))
        {
            Queue.Add(Kubernetes.Client.Resources.KeyOf(s));
        }
    }

    /// <summary>
    /// An agent that comes, goes or is released moves claims now. A renewal of a live agent's
    /// Lease changes nothing: the claim loop already wakes when the earliest Lease would run
    /// out, and sees the renewal then. (With a pass per renewal, ten agents renewing every second
    /// kept the loop busy with passes that changed nothing, and a failover waited behind them.)
    /// </summary>
    private void OnLease(k8s.WatchEventType type, k8s.Models.V1Lease lease, k8s.Models.V1Lease? old)
    {
        if (type == k8s.WatchEventType.Deleted)
        {
            Agents.Forget(lease.Metadata.Name);
        }
        else
        {
            Agents.Observe(lease);
        }

        if (type != k8s.WatchEventType.Deleted && old is not null
            && !string.IsNullOrEmpty(old.Spec?.HolderIdentity) && old.Spec.HolderIdentity == lease.Spec?.HolderIdentity
            && (lease.Spec.LeaseDurationSeconds ?? 0) >= (old.Spec.LeaseDurationSeconds ?? 0)
            && Draining(old) == Draining(lease)
            && Metrics.UnconfirmedExpiries.Value == 0)
        {
            // Renewed, no shorter than before, and no expiry waits for a renewal to confirm it:
            // the loop's timer is early, never late.
            return;
        }

        RequestClaimSync();
    }

    /// <summary>An IPNode whose links (interfaces up, BGP sessions established) changed: the claims may move.</summary>
    private void OnLinks(k8s.WatchEventType type, Kubernetes.Models.IpNode node, Kubernetes.Models.IpNode? old)
    {
        static string Links(Kubernetes.Models.IpNode? n) => n?.Status is not { } s ? string.Empty
            : string.Join(',', s.Interfaces.Where(i => !i.Up).Select(i => i.Name).Order(StringComparer.Ordinal)) + "|" + s.Peers.Count(p => p.State == "Established") + "/" + s.Peers.Count;

        if (type == k8s.WatchEventType.Deleted || Links(old) != Links(node))
        {
            RequestClaimSync();
        }
    }

    private static bool Draining(k8s.Models.V1Lease lease) => lease.Metadata.Annotations?.ContainsKey(Kubernetes.Models.ExtipApi.DrainingAnnotation) == true;

    /// <summary>Node labels pick the eligible nodes; a Node's status changes (heartbeats) pick nothing.</summary>
    private void OnNode(k8s.WatchEventType type, k8s.Models.V1Node node, k8s.Models.V1Node? old)
    {
        if (type != k8s.WatchEventType.Deleted && old is not null && LabelsEqual(old.Metadata.Labels, node.Metadata.Labels)
            && OutOfService(old) == OutOfService(node) && Ready(old) == Ready(node))
        {
            return;
        }

        RequestClaimSync();
    }

    private static bool OutOfService(k8s.Models.V1Node n) => n.Spec?.Taints?.Any(t => t.Key == NodeSignals.OutOfServiceTaint) == true;

    private static string? Ready(k8s.Models.V1Node n) => n.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready")?.Status;

    private void OnEndpoints(k8s.WatchEventType type, k8s.Models.V1EndpointSlice slice, k8s.Models.V1EndpointSlice? old) => RequestClaimSync();

    /// <summary>Someone else changed or deleted a claim: put it back as it should be.</summary>
    private void OnClaim(k8s.WatchEventType type, Kubernetes.Models.IpClaim claim, Kubernetes.Models.IpClaim? old) => RequestClaimSync();

    private static bool LabelsEqual(IDictionary<string, string>? a, IDictionary<string, string>? b) =>
        (a?.Count ?? 0) == (b?.Count ?? 0) && (a ?? new Dictionary<string, string>()).All(kv => b!.TryGetValue(kv.Key, out var v) && v == kv.Value);

    [LoggerMessage(EventId = 302, Level = LogLevel.Debug, Message = "Service {Key}: {Type} (resourceVersion {Version})")]
    private static partial void LogServiceEvent(ILogger logger, string key, k8s.WatchEventType type, string version);

    [LoggerMessage(EventId = 304, Level = LogLevel.Debug, Message = "IPPool {Name}: {Type} (generation {Generation}, was {Old})")]
    private static partial void LogPoolEvent(ILogger logger, string name, k8s.WatchEventType type, long generation, long old);

    [LoggerMessage(EventId = 305, Level = LogLevel.Debug, Message = "pools loaded: {Count}")]
    private static partial void LogPools(ILogger logger, int count);

    [LoggerMessage(EventId = 303, Level = LogLevel.Debug, Message = "Service {Key}: reconciled")]
    private static partial void LogReconciled(ILogger logger, string key);

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "reloaded {Services} Services holding {Addresses} addresses")]
    private static partial void LogReloaded(ILogger logger, int services, int addresses);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "{Kind} {Key}: will retry: {Error}")]
    private static partial void LogRetry(ILogger logger, string kind, string key, string error);
}
