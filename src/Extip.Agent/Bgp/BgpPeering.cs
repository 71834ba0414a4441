using System.Globalization;
using System.Net;
using System.Text;
using Extip.Bgp.Bfd;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Extip.Core.Concurrency;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Events;
using Extip.Kubernetes.Informers;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Extip.Agent.Bgp;

/// <summary>
/// The agent's BGP side: a session with every BGPPeer that selects this node (re-made when the
/// BGPPeer, its Secret or the node's labels change), the host routes of the BGP-mode addresses the
/// node holds announced on all of them, and their state for the IPNode status and the metrics.
/// A BGPPeer that cannot work is reported (status and an Event on it), and the others go on.
/// </summary>
public sealed partial class BgpPeering : IAsyncDisposable, IRouteAnnouncer
{
    private static readonly TimeSpan Resync = TimeSpan.FromSeconds(30);

    // A password Secret the agent may not read yet: the controller grants it by name when a
    // BGPPeer names it, usually a moment after the agent saw the BGPPeer. Look again soon.
    private static readonly TimeSpan ForbiddenRetry = TimeSpan.FromSeconds(2);
    private bool _forbidden;
    private readonly IKubernetes _client;
    private readonly AgentOptions _options;
    private readonly ILogger _logger;
    private readonly Informer<BgpPeer> _peers;
    private readonly Informer<V1Node> _node;
    private readonly EventRecorder _events;
    private readonly BgpSpeaker _speaker;
    private readonly Func<uint> _defaultRouterId;
    private readonly Wakeup _wake;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (PeerOptions Options, BgpSession Session)> _active = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Address, string Error)> _invalid = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _reported = new(StringComparer.Ordinal);

    /// <summary>Per BGPPeer selecting this node: the options of its last valid spec and that spec's generation. Only the reconcile loop uses it.</summary>
    private readonly Dictionary<string, (long Generation, PeerOptions Options)> _lastGood = new(StringComparer.Ordinal);

    public BgpPeering(IKubernetes client, AgentOptions options, ILoggerFactory logs, Func<uint> defaultRouterId)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logs);
        _client = client;
        _options = options;
        _defaultRouterId = defaultRouterId;
        _logger = logs.CreateLogger("extip.agent.bgp");
        _wake = new Wakeup(options.Time);
        _peers = new Informer<BgpPeer>(Resources.Custom<BgpPeer>(client, BgpPeer.Plural), logs.CreateLogger("informer.bgppeers"), options.Time);
        _node = new Informer<V1Node>(Resources.Node(client, options.Node), logs.CreateLogger("informer.node"), options.Time);
        _events = new EventRecorder(client, "extip-agent", logs.CreateLogger("events"), options.Time);
        _speaker = new BgpSpeaker(options.Netns, logs) { BfdTransmit = options.BfdTransmit };
        _peers.Changed += (_, _, _) => Wake();
        _node.Changed += (_, _, _) => Wake();
    }

    /// <summary>
    /// The agent found addresses a previous run left on the node: it restarted, and the routes that
    /// run announced still lead to addresses that are there (graceful restart's R and F bits).
    /// After a reboot or on a first start, false: a helping peer drops stale routes at once.
    /// </summary>
    public bool Restarted { get; init; }

    /// <summary>Something a status or the metrics show has changed (a session's state, the set of peers).</summary>
    public event Action? Changed;

    public BgpSpeaker Speaker => _speaker;

    public IReadOnlyCollection<BgpSession> Sessions
    {
        get
        {
            lock (_gate)
            {
                return _active.Values.Select(a => a.Session).ToList();
            }
        }
    }

    public Task RunAsync(CancellationToken ct) => Task.WhenAll(
        Task.Run(() => _peers.RunAsync(ct), CancellationToken.None),
        Task.Run(() => _node.RunAsync(ct), CancellationToken.None),
        Task.Run(() => _events.RunAsync(ct), CancellationToken.None),
        Task.Run(() => LoopAsync(ct), CancellationToken.None));

    /// <summary>The routes every session announces (host routes of the held BGP-mode addresses).</summary>
    public void Announce(IReadOnlyDictionary<Prefix, RouteAttributes> routes) => _speaker.Announce(routes);

    /// <summary>SIGTERM: every route withdrawn, every session closed with Cease.</summary>
    public async Task ShutdownAsync(TimeSpan grace)
    {
        List<IPAddress> peers;
        lock (_gate)
        {
            peers = _active.Values.Select(a => a.Options.PeerAddress).ToList();
            _active.Clear();
        }

        await Task.WhenAll(peers.Select(p => _speaker.RemovePeerAsync(p, grace))).ConfigureAwait(false);
        LogShutdown(_logger, peers.Count);
    }

    /// <summary>One line per BGPPeer that selects this node, for the IPNode status.</summary>
    public List<PeerStatus> Status()
    {
        lock (_gate)
        {
            var list = _active.Select(kv =>
            {
                var s = kv.Value.Session;
                return new PeerStatus
                {
                    Name = kv.Key,
                    Address = kv.Value.Options.PeerAddress.ToString(),
                    State = s.State.ToString(),
                    Bfd = s.Bfd?.State.ToString(),
                    PrefixesAdvertised = s.PrefixesAdvertised,
                    Since = s.EstablishedSince,
                    Message = _invalid.TryGetValue(kv.Key, out var bad) ? bad.Error : s.State == SessionState.Established ? null : s.LastError,
                };
            }).ToList();

            // A peer serving its last valid spec shows its session, with the error as message.
            list.AddRange(_invalid.Where(kv => !_active.ContainsKey(kv.Key)).Select(kv => new PeerStatus { Name = kv.Key, Address = kv.Value.Address, State = "Invalid", Message = kv.Value.Error }));
            return [.. list.OrderBy(p => p.Name, StringComparer.Ordinal)];
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _speaker.DisposeAsync().ConfigureAwait(false);
    }

    private void Wake() => _wake.Set();

    private async Task LoopAsync(CancellationToken ct)
    {
        try
        {
            // The informers' first lists raise their changes before they say they are ready.
            await Task.WhenAll(_peers.ReadyAsync(ct), _node.ReadyAsync(ct)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        while (!ct.IsCancellationRequested)
        {
            try
            {
                await ReconcileAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A peer that fails to reconcile must not stop the others: log and retry.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogReconcileFailed(_logger, e.Message);
            }

            var resync = _forbidden ? ForbiddenRetry : Resync;
            _forbidden = false;
            if (!await _wake.WaitAsync(resync, ct).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Brings the sessions in line with the BGPPeers that select this node.</summary>
    private async Task ReconcileAsync(CancellationToken ct)
    {
        var labels = (IReadOnlyDictionary<string, string>?)_node.Items.FirstOrDefault()?.Metadata.Labels ?? new Dictionary<string, string>();
        var desired = new Dictionary<string, PeerOptions>(StringComparer.Ordinal);
        var invalid = new Dictionary<string, (string Address, string Error)>(StringComparer.Ordinal);
        var byAddress = new Dictionary<IPAddress, string>();
        var routerId = _defaultRouterId();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var peer in _peers.Items.OrderBy(p => p.Metadata.Name, StringComparer.Ordinal))
        {
            var name = peer.Metadata.Name;
            names.Add(name);
            var (selected, error) = PeerConfig.Selection(peer, labels);
            PeerOptions? options = null;
            if (error is null && !selected)
            {
                _lastGood.Remove(name);
                continue;
            }

            if (error is null)
            {
                var secrets = new Dictionary<SecretKeyRef, (string?, string?)>();
                foreach (var r in peer.Spec.PasswordSecret is { } psr ? [psr] : Array.Empty<SecretKeyRef>())
                {
                    secrets[r] = await PasswordAsync(r, ct).ConfigureAwait(false);
                }

                (options, error) = PeerConfig.Build(peer, routerId, r => secrets[r]);
            }

            if (options is not null && byAddress.TryGetValue(options.PeerAddress, out var other))
            {
                error = $"spec.peerAddress: {options.PeerAddress} is BGPPeer {other}'s peer already; one session per peer address";
                options = null;
            }

            if (options is null)
            {
                // Last good configuration (DESIGN.md): a bad edit keeps the session this node had
                // with the last valid spec; it never takes a working peer down.
                if (_lastGood.TryGetValue(name, out var last) && !byAddress.ContainsKey(last.Options.PeerAddress))
                {
                    var serving = string.Create(CultureInfo.InvariantCulture, $"{error}; serving the last valid spec (generation {last.Generation})");
                    invalid[name] = (peer.Spec.PeerAddress, serving);
                    Report(peer, "Warning", "InvalidPeer", $"node {_options.Node}: {serving}");
                    byAddress[last.Options.PeerAddress] = name;
                    desired[name] = last.Options;
                    continue;
                }

                invalid[name] = (peer.Spec.PeerAddress, error!);
                Report(peer, "Warning", "InvalidPeer", $"node {_options.Node}: {error}");
                continue;
            }

            byAddress[options.PeerAddress] = name;
            desired[name] = options with { Netns = _options.Netns, RestartState = Restarted, ForwardingPreserved = Restarted, Time = _options.Time };
            _lastGood[name] = (peer.Metadata.Generation ?? 0, desired[name]);
        }

        foreach (var gone in _lastGood.Keys.Where(n => !names.Contains(n)).ToList())
        {
            _lastGood.Remove(gone);
        }

        List<(string Name, PeerOptions Options)> add = [];
        List<(string Name, BgpSession Session)> remove = [];
        lock (_gate)
        {
            foreach (var (name, (options, session)) in _active)
            {
                if (!desired.TryGetValue(name, out var want) || want != options)
                {
                    remove.Add((name, session));
                }
            }

            foreach (var (name, _) in remove)
            {
                _active.Remove(name);
            }

            foreach (var (name, options) in desired)
            {
                if (!_active.ContainsKey(name))
                {
                    add.Add((name, options));
                }
            }

            _invalid.Clear();
            foreach (var (k, v) in invalid)
            {
                _invalid[k] = v;
            }
        }

        foreach (var (name, session) in remove)
        {
            LogPeerRemoved(_logger, name, session.Options.PeerAddress.ToString());
            await _speaker.RemovePeerAsync(session.Options.PeerAddress, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }

        foreach (var (name, options) in add)
        {
            BgpSession session;
            try
            {
                session = _speaker.AddPeer(options);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
                lock (_gate)
                {
                    _invalid[name] = (options.PeerAddress.ToString(), e.Message);
                }

                continue;
            }

            session.StateChanged += (_, _) => Changed?.Invoke();
            if (session.Bfd is { } bfd)
            {
                bfd.StateChanged += (_, _) => Changed?.Invoke();
            }

            LogPeerAdded(_logger, name, options.Name, options.Bfd is null ? "off" : $"{options.Bfd.MinTx.TotalMilliseconds} ms x {options.Bfd.Multiplier}");
            lock (_gate)
            {
                _active[name] = (options, session);
            }
        }

        if (add.Count > 0 || remove.Count > 0 || invalid.Count > 0)
        {
            Changed?.Invoke();
        }
    }

    private async Task<(string? Password, string? Error)> PasswordAsync(SecretKeyRef r, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(r.Namespace) || string.IsNullOrEmpty(r.Name))
        {
            return (null, "namespace and name of the Secret are required");
        }

        try
        {
            var secret = await _client.GetAsync<V1Secret>(ApiPath.Core("secrets", r.Namespace, r.Name), ct).ConfigureAwait(false);
            if (secret.Data?.TryGetValue(r.Key, out var bytes) == true)
            {
                return (Encoding.UTF8.GetString(bytes), null);
            }

            if (secret.StringData?.TryGetValue(r.Key, out var text) == true)
            {
                return (text, null);
            }

            return (null, $"Secret {r.Namespace}/{r.Name} has no key \"{r.Key}\"");
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return (null, $"Secret {r.Namespace}/{r.Name} does not exist");
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden)
        {
            _forbidden = true;
            return (null, $"the agent may not read Secret {r.Namespace}/{r.Name} (RBAC: the controller grants a Secret in its namespace by name once a BGPPeer names it; elsewhere, a Role there must)");
        }
    }

    /// <summary>An Event on the BGPPeer, once per distinct message.</summary>
    private void Report(BgpPeer peer, string type, string reason, string message)
    {
        if (_reported.TryGetValue(peer.Metadata.Name, out var last) && last == message)
        {
            return;
        }

        _reported[peer.Metadata.Name] = message;
        LogInvalid(_logger, peer.Metadata.Name, message);
        var target = new V1ObjectReference { ApiVersion = $"{ExtipApi.Group}/{ExtipApi.Version}", Kind = "BGPPeer", Name = peer.Metadata.Name, Uid = peer.Metadata.Uid };
        if (type == "Warning")
        {
            _events.Warning(target, reason, message);
        }
        else
        {
            _events.Normal(target, reason, message);
        }
    }

    [LoggerMessage(EventId = 520, Level = LogLevel.Information, Message = "BGPPeer {Name}: session with {Peer}, BFD {Bfd}")]
    private static partial void LogPeerAdded(ILogger logger, string name, string peer, string bfd);

    [LoggerMessage(EventId = 521, Level = LogLevel.Information, Message = "BGPPeer {Name}: session with {Peer} removed")]
    private static partial void LogPeerRemoved(ILogger logger, string name, string peer);

    [LoggerMessage(EventId = 522, Level = LogLevel.Warning, Message = "BGPPeer {Name}: {Message}")]
    private static partial void LogInvalid(ILogger logger, string name, string message);

    [LoggerMessage(EventId = 523, Level = LogLevel.Warning, Message = "BGP peers: reconcile failed, will retry: {Error}")]
    private static partial void LogReconcileFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 524, Level = LogLevel.Information, Message = "BGP: withdrew everything and closed {Count} sessions")]
    private static partial void LogShutdown(ILogger logger, int count);
}
