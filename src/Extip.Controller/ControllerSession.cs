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
    private readonly IKubernetes _client;
    private readonly ClusterView _view;
    private readonly ControllerOptions _options;
    private readonly ControllerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly AllocationState _allocation;
    private readonly LivenessTracker _liveness;
    private readonly Passes _passes;
    private readonly WorkQueue<ServiceKey> _queue = new();
    private readonly ServiceReconciler _services;
    private readonly ClaimReconciler _claims;
    private readonly PoolStatusReconciler _poolStatus;
    private readonly PeerStatusReconciler _peerStatus;
    private readonly AgentLabelReconciler _agentLabels;
    private readonly AgentSecretsReconciler _agentSecrets;

    public ControllerSession(IKubernetes client, ClusterView view, ControllerOptions options, ControllerMetrics metrics, IEventSink events, ILogger logger)
    {
        _client = client;
        _view = view;
        _options = options;
        _metrics = metrics;
        _logger = logger;
        _allocation = new AllocationState(new AllocatorOptions { ExternalIPs = options.ExternalIPs, StickyGrace = options.StickyGrace, Mask = options.Mask, MaskV6 = options.MaskV6 }, options.Time);
        _liveness = new LivenessTracker(options, view.Nodes.Get, metrics, events, logger);
        _passes = new Passes(options.Time);
        _services = new ServiceReconciler(client, view, options, metrics, events, _allocation, _passes, _queue);
        _agentLabels = new AgentLabelReconciler(client, view, options, logger);
        _agentSecrets = new AgentSecretsReconciler(client, view, options, logger);
        _claims = new ClaimReconciler(client, view, options, metrics, events, logger, _allocation, _liveness, _agentLabels, _passes);
        _poolStatus = new PoolStatusReconciler(client, view, options, metrics, events, _allocation);
        _peerStatus = new PeerStatusReconciler(client, view, options);
    }

    /// <summary>Set once the allocator holds what the API showed at start.</summary>
    public bool Reloaded { get; private set; }

    public IReadOnlyDictionary<ServiceKey, IReadOnlyList<Assignment>> Assignments() => _allocation.Assignments();

    public async Task RunAsync(CancellationToken ct)
    {
        await _view.ReadyAsync(ct);

        // Subscribe before reloading: a Service deleted between the reload and the first
        // reconcile must still be seen, or its address would stay held.
        _view.Services.Changed += OnService;
        _view.Pools.Changed += OnPool;
        _view.Namespaces.Changed += OnNamespace;
        _view.Leases.Changed += OnLease;
        _view.Nodes.Changed += OnNode;
        _view.EndpointSlices.Changed += OnEndpoints;
        _view.Claims.Changed += OnClaim;
        _view.IpNodes.Changed += _agentLabels.OnIpNode;
        _view.IpNodes.Changed += OnStatusInput;
        _view.IpNodes.Changed += OnLinks;
        _view.Peers.Changed += OnStatusInput;
        _view.Peers.Changed += _agentSecrets.OnPeer;
        _view.Nodes.Changed += OnStatusInput;
        _liveness.Start(_view.Leases.Items);

        try
        {
            LoadPools();
            Reload();
            Reloaded = true;
            foreach (var s in _view.Services.Items)
            {
                _queue.Add(KeyOf(s));
            }

            foreach (var key in _allocation.Assignments().Keys)
            {
                _queue.Add(key);
            }

            _passes.HeldChanged();
            var workers = Enumerable.Range(0, _options.Workers).Select(_ => WorkAsync(ct)).ToList();
            await Task.WhenAll([.. workers, ClaimLoopAsync(ct), StatusLoopAsync(ct), _agentLabels.RunAsync(ct), _agentSecrets.RunAsync(ct)]);
        }
        finally
        {
            _view.Services.Changed -= OnService;
            _view.Pools.Changed -= OnPool;
            _view.Namespaces.Changed -= OnNamespace;
            _view.Leases.Changed -= OnLease;
            _view.Nodes.Changed -= OnNode;
            _view.EndpointSlices.Changed -= OnEndpoints;
            _view.IpNodes.Changed -= OnStatusInput;
            _view.IpNodes.Changed -= OnLinks;
            _view.Peers.Changed -= OnStatusInput;
            _view.Peers.Changed -= _agentSecrets.OnPeer;
            _view.Nodes.Changed -= OnStatusInput;
            _view.Claims.Changed -= OnClaim;
            _view.IpNodes.Changed -= _agentLabels.OnIpNode;
        }
    }

    private static ServiceKey KeyOf(k8s.Models.V1Service s) => new(s.Metadata.NamespaceProperty, s.Metadata.Name);

    /// <summary>Reload first: every Service gets back what its status (and the claims) show, before anything new is handed out.</summary>
    private void Reload()
    {
        var requests = _view.Services.Items
            .Where(s => ServiceMapping.IsOurs(s, _options))
            .Select(s => ServiceMapping.ToRequest(s, _view.NamespaceLabels(s.Metadata.NamespaceProperty), ServiceReconciler.AcceptedExternalIps(_view, KeyOf(s)), _options))
            .ToList();
        var held = _allocation.Reload(requests);
        LogReloaded(_logger, requests.Count, held);
    }

    private void LoadPools() => LogPools(_logger, _allocation.LoadPools(() => _view.Pools.Items));

    private async Task WorkAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            ServiceKey key;
            try
            {
                key = await _queue.TakeAsync(ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await _services.ReconcileAsync(key, ct);
                LogReconciled(_logger, key.ToString());
                _queue.Forget(key);
                _metrics.Reconciles.WithLabels("service", "ok").Inc();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A worker must survive any failure of one key: the key is retried with backoff.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _metrics.Reconciles.WithLabels("service", "retry").Inc();
                LogRetry(_logger, "Service", key.ToString(), $"{e.GetType().Name}: {e.Message}");
                _queue.AddRateLimited(key);
            }
            finally
            {
                _queue.Done(key);
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
            var woke = await _passes.Claims.NextAsync(nextExpiry is { } at ? Max(TimeSpan.Zero, at - _options.Time.GetUtcNow() + TimeSpan.FromMilliseconds(5)) : Timeout.InfiniteTimeSpan, ct);
            if (woke == WakeReason.Stopped)
            {
                return;
            }

            var expired = woke == WakeReason.TimedOut;

            if (expired && !_claims.RebalancePending && !_liveness.Changed(out var renewed))
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
                    await Task.Delay(Clamp(lastPass * 2, ClaimDebounce, TimeSpan.FromMilliseconds(500)), _options.Time, ct);
                }

                var started = _options.Time.GetUtcNow();
                nextExpiry = await _claims.SyncAsync(ct);
                lastPass = _options.Time.GetUtcNow() - started;
                backoff.Reset();
                _metrics.Reconciles.WithLabels("claims", "ok").Inc();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The claim loop must outlive any failure; it retries with backoff.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _metrics.Reconciles.WithLabels("claims", "retry").Inc();
                LogRetry(_logger, "IPClaims", "*", e.Message);
                await DelayQuietly(backoff.Next(), ct);
                _passes.RequestClaims();
            }
        }
    }

    private async Task StatusLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await NextPoolChangeAsync(ct);
                await Task.Delay(TimeSpan.FromMilliseconds(100), _options.Time, ct);
                await _poolStatus.SyncAsync(ct);
                await _peerStatus.SyncAsync(ct);
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
                _passes.RequestStatus();
            }
        }
    }

    /// <summary>
    /// A request for pool status, or the moment an address kept for a deleted Service is freed:
    /// the pool's reserved count drops then, with no event to say so.
    /// </summary>
    private async Task NextPoolChangeAsync(CancellationToken ct)
    {
        var expiry = _allocation.NextReservationExpiry;

        // Until asked, or until the earliest address reservation runs out.
        var wait = expiry is { } at ? Max(TimeSpan.Zero, at - _options.Time.GetUtcNow()) : Timeout.InfiniteTimeSpan;
        if (await _passes.Status.NextAsync(wait, ct) == WakeReason.Stopped)
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
            await Task.Delay(t, _options.Time, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void OnService(k8s.WatchEventType type, k8s.Models.V1Service svc, k8s.Models.V1Service? old)
    {
        var key = KeyOf(svc);
        LogServiceEvent(_logger, key.ToString(), type, svc.Metadata.ResourceVersion);
        _queue.Add(key);
    }

    private void OnStatusInput<T>(k8s.WatchEventType type, T item, T? old) => _passes.RequestStatus();

    private void OnPool(k8s.WatchEventType type, Kubernetes.Models.IpPool pool, Kubernetes.Models.IpPool? old)
    {
        LogPoolEvent(_logger, pool.Metadata.Name, type, pool.Metadata.Generation ?? 0, old?.Metadata.Generation ?? -1);
        if (old is not null && type != k8s.WatchEventType.Deleted && old.Metadata.Generation == pool.Metadata.Generation && old.Metadata.Generation is not null)
        {
            return;
        }

        LoadPools();
        foreach (var s in _view.Services.Items)
        {
            _queue.Add(KeyOf(s));
        }

        _passes.HeldChanged();
    }

    private void OnNamespace(k8s.WatchEventType type, k8s.Models.V1Namespace ns, k8s.Models.V1Namespace? old)
    {
        if (old is not null && LivenessTracker.LabelsEqual(old.Metadata.Labels, ns.Metadata.Labels))
        {
            return;
        }

        foreach (var s in _view.Services.Items.Where(s => s.Metadata.NamespaceProperty == ns.Metadata.Name))
        {
            _queue.Add(KeyOf(s));
        }
    }

    private void OnLease(k8s.WatchEventType type, k8s.Models.V1Lease lease, k8s.Models.V1Lease? old)
    {
        if (_liveness.OnLease(type, lease, old))
        {
            _passes.RequestClaims();
        }
    }

    private void OnNode(k8s.WatchEventType type, k8s.Models.V1Node node, k8s.Models.V1Node? old)
    {
        if (LivenessTracker.OnNode(type, node, old))
        {
            _passes.RequestClaims();
        }
    }

    /// <summary>An IPNode whose links (interfaces up, BGP sessions established) changed: the claims may move.</summary>
    private void OnLinks(k8s.WatchEventType type, Kubernetes.Models.IpNode node, Kubernetes.Models.IpNode? old)
    {
        static string Links(Kubernetes.Models.IpNode? n) => n?.Status is not { } s ? string.Empty
            : string.Join(',', s.Interfaces.Where(i => !i.Up).Select(i => i.Name).Order(StringComparer.Ordinal)) + "|" + s.Peers.Count(p => p.State == "Established") + "/" + s.Peers.Count;

        if (type == k8s.WatchEventType.Deleted || Links(old) != Links(node))
        {
            _passes.RequestClaims();
        }
    }

    private void OnEndpoints(k8s.WatchEventType type, k8s.Models.V1EndpointSlice slice, k8s.Models.V1EndpointSlice? old) => _passes.RequestClaims();

    /// <summary>Someone else changed or deleted a claim: put it back as it should be.</summary>
    private void OnClaim(k8s.WatchEventType type, Kubernetes.Models.IpClaim claim, Kubernetes.Models.IpClaim? old) => _passes.RequestClaims();

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
