using System.Net;
using System.Text.Json;
using Extip.Agent.Bgp;
using Extip.Agent.Peers;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Extip.Core.Concurrency;
using Extip.Core.Pools;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Informers;
using Extip.Kubernetes.Models;
using Extip.Netlink;
using Extip.Netlink.Wire;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Extip.Agent;

/// <summary>
/// The node agent: keeps its Lease, follows the IPClaims naming its node, makes the node's
/// marked addresses match them (sweeping the rest, also at start), reports in its IPNode status,
/// and drops everything when it can no longer renew its Lease in time (fencing). Stopping
/// removes its addresses and releases the Lease so that the controller moves the claims at once.
/// </summary>
public sealed partial class ExtipAgent : IAsyncDisposable
{
    private readonly IKubernetes _client;
    private readonly AgentOptions _options;
    private readonly ILoggerFactory _logs;
    private readonly ILogger _logger;
    private readonly Informer<IpClaim> _claims;
    private readonly LeaseKeeper _lease;
    private readonly StatusWriter _status;
    private readonly Wakeup _wake;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private IDataplane? _dataplane;
    private IRouteAnnouncer? _routes;
    private readonly Func<AgentOptions, IDataplane> _openDataplane;
    private readonly IRouteAnnouncer? _routesGiven;
    private BgpPeering? _bgp;
    private AgentMetrics? _metrics;
    private AgentEndpoint? _endpoint;
    private bool _fenced;

    /// <summary>Set once a pass has announced the routes of what it holds (see <see cref="WithdrawFirst"/>).</summary>
    private bool _announcedHeld;
    private string? _chainError;
    private string _chained = "none";
    private bool _stopped;
    private long _relistsAtFence = -1;
    private volatile string? _passFailing;
    private readonly PeerWitness _witness;
    private readonly Informer<IpNode> _ipNodes;
    private readonly PeerHeartbeats _heartbeats;
    private readonly OutageRule _outage;
    private readonly Handover _handover;
    private TimeSpan? _handoverRecheck;
    private readonly Wakeup _passed;

    /// <param name="dataplane">Opens the node's dataplane at start; the kernel's (<see cref="Dataplane"/>) when null.</param>
    /// <param name="routes">Where BGP routes go when <see cref="AgentOptions.Bgp"/> is on; extip's speaker, driven by the BGPPeers, when null.</param>
    public ExtipAgent(IKubernetes client, AgentOptions options, ILoggerFactory logs, Func<AgentOptions, IDataplane>? dataplane = null, IRouteAnnouncer? routes = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logs);
        _openDataplane = dataplane ?? (o => new Dataplane(o.Netns, o.Mark, o.Announce, o.AnnounceRepeats, o.Time));
        _routesGiven = routes;
        _client = client;
        _options = options;
        _logs = logs;
        _logger = logs.CreateLogger("extip.agent");
        _claims = new Informer<IpClaim>(Resources.Custom<IpClaim>(client, IpClaim.Plural), logs.CreateLogger("informer.ipclaims"), options.Time)
        {
            Required = true,

            // After a fence the agent acts (and renews) only once it has listed its claims again:
            // once the API server is back, that must not wait for a backoff grown through a long
            // outage. Retrying at the renew interval costs what the renewals cost.
            MaxBackoff = options.RenewInterval,
        };
        _lease = new LeaseKeeper(client, options);
        _wake = new Wakeup(options.Time);
        _passed = new Wakeup(options.Time);
        _witness = new PeerWitness(options.Time, options.Node);
        _witness.Changed += () =>
        {
            if (_lease.ValidUntil <= Now)
            {
                Wake();
            }
        };
        _ipNodes = new Informer<IpNode>(Resources.Custom<IpNode>(client, IpNode.Plural), logs.CreateLogger("informer.ipnodes"), options.Time);
        _status = new StatusWriter(client, options, () => _bgp?.Status(), logs.CreateLogger("extip.status"));
        _heartbeats = new PeerHeartbeats(client, options, _lease, _claims, _ipNodes, logs.CreateLogger("extip.peers"));
        _outage = new OutageRule(options, _lease, _witness, _heartbeats, _logger);
        _handover = new Handover(options.Time, options.HandoverTimeout, options.WithdrawDelay, options.HandoverOverlap);

        // A node that says it holds what this one hands over ends the handover: look again.
        _ipNodes.Changed += (_, node, _) =>
        {
            if (_handover.Count > 0 && node.Metadata.Name != options.Node)
            {
                Wake();
            }
        };
        _claims.Changed += (_, claim, old) =>
        {
            if (Mine(claim) || (old is not null && Mine(old)))
            {
                Wake();
            }
        };
    }

    public AgentOptions Options => _options;

    /// <summary>The state of each address after the last pass.</summary>
    public IReadOnlyList<AddressState> States { get; private set; } = [];

    public long AnnouncementsSent => _dataplane?.AnnouncementsSent ?? 0;

    /// <summary>The BGP side (null when BGP is off).</summary>
    public BgpPeering? Bgp => _bgp;

    /// <summary>True while the Lease has run out and the agent holds nothing.</summary>
    public bool Fenced => _fenced;

    /// <summary>True while the Lease has run out but single-owner addresses stay, because no peer has reached the API server either.</summary>
    public bool HoldingThroughOutage => _outage.Holding;

    /// <summary>True after a fence until the claims are listed again: the agent keeps what it holds and acts on nothing.</summary>
    public bool AwaitingRelist => _claims.Relists <= _relistsAtFence;

    /// <summary>What this agent heard from its peers.</summary>
    public PeerWitness Peers => _witness;

    /// <summary>The claims are known and the Lease is held.</summary>
    public bool IsReady => _claims.IsReady && !_fenced && _lease.ValidUntil > Now;

    public AgentMetrics Metrics => _metrics ??= new AgentMetrics(this);

    /// <summary>Where /metrics is served, when it is.</summary>
    public Uri? MetricsUrl => _endpoint?.Url;

    /// <summary>Until when the agent may hold addresses (its last renewal plus the Lease duration).</summary>
    public DateTime LeaseValidUntil => _lease.ValidUntil;

    /// <summary>Opens the dataplane (fails at once on a missing namespace or missing privileges) and starts the loops.</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        _dataplane = _openDataplane(_options);
        var leftovers = _dataplane.Marked().Count;
        LogStarting(_logger, _options.Node, _options.Netns ?? "(own)", leftovers);

        // Everything that can fail at start fails before the first renewal: an agent that exits
        // must never have told the controller it was there to take claims.
        if (_options.MetricsAddress is { } listen)
        {
            _endpoint = await AgentEndpoint.StartAsync(listen, this, Metrics, ct).ConfigureAwait(false);
        }

        var stop = _stop.Token;
        _loops.Add(Task.Run(() => _claims.RunAsync(stop), CancellationToken.None));

        _claims.Listed += Wake;

        // The first list's changes come before the informer says it is ready: look again then.
        _ = _claims.ReadyAsync(stop).ContinueWith(_ => Wake(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        _loops.Add(Task.Run(() => LeaseLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => KernelLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => ReconcileLoopAsync(stop), CancellationToken.None));

        // The other nodes' statuses: heartbeat targets, and the handovers' "taken".
        _loops.Add(Task.Run(() => _ipNodes.RunAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => _status.RunAsync(stop), CancellationToken.None));
        if (_options.PeerPort > 0)
        {
            var link = _heartbeats.Link = new PeerLink(_options.Netns, _options.PeerPort, _witness, _heartbeats.Verify, _heartbeats.InterfaceOf, _logs.CreateLogger("extip.peers"));
            _loops.Add(Task.Run(() => link.RunAsync(stop), CancellationToken.None));
            _loops.Add(Task.Run(() => _heartbeats.KeyLoopAsync(stop), CancellationToken.None));
            _loops.Add(Task.Run(() => _heartbeats.SendLoopAsync(stop), CancellationToken.None));
        }

        if (_options.Bgp)
        {
            if (_routesGiven is null)
            {
                _bgp = new BgpPeering(_client, _options, _logs, () => RouteMapping.RouterId(_options.RouterId ?? _dataplane?.PrimaryIPv4(), _options.Node)) { Restarted = leftovers > 0 };
                _bgp.Changed += _status.Poke;
                _loops.Add(Task.Run(() => _bgp.RunAsync(stop), CancellationToken.None));
            }

            _routes = _routesGiven ?? _bgp;
        }
    }

    /// <summary>Why the agent cannot act now (and so does not renew its Lease), or null when it can.</summary>
    private string? CannotAct() =>
        !_claims.IsReady ? "its IPClaims are not listed yet"
        : AwaitingRelist ? "its IPClaims are not listed again since the fence"
        : _passFailing is { } error ? $"its last pass over the interfaces failed ({error})"
        : null;

    /// <summary>
    /// Asks the controller to move this node's claims now (the Lease says draining) and hands them
    /// over make-before-break, until none names this node and no handover is left, or
    /// <see cref="AgentOptions.DrainTimeout"/>. Not when the agent cannot act (no Lease, claims not
    /// listed): then nobody would move them.
    /// </summary>
    private async Task DrainAsync(CancellationToken ct)
    {
        if (_options.DrainTimeout <= TimeSpan.Zero || _fenced || !_claims.IsReady || _lease.ValidUntil <= Now || Drained())
        {
            return;
        }

        _lease.Draining = true;
        var started = _options.Time.GetTimestamp();
        LogDraining(_logger, _claims.Items.Count(Mine));
        using var bounded = new Deadline(_options.Time, _options.DrainTimeout, ct);
        try
        {
            // At once, not at the next renewal: the controller moves the claims when it sees it.
            await _lease.RenewAsync(bounded.Token).ConfigureAwait(false);
            while (!Drained())
            {
                await _passed.WaitAsync(_options.RenewInterval, bounded.Token).ConfigureAwait(false);
            }

            LogDrained(_logger, _options.Time.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (OperationCanceledException)
        {
            LogDrainTimedOut(_logger, _options.DrainTimeout.TotalSeconds, _claims.Items.Count(Mine));
        }
    }

    /// <summary>No claim names this node and nothing is being handed over.</summary>
    private bool Drained() => !_claims.Items.Any(Mine) && _handover.Count == 0 && !States.Any(s => s.State == AddressState.Held);

    /// <summary>The wall clock, from the injected <see cref="AgentOptions.Time"/>.</summary>
    private DateTime Now => _options.Time.GetUtcNow().UtcDateTime;

    /// <summary>Handovers given up because the new holders did not say in time that they held the address.</summary>
    public long HandoversTimedOut => Interlocked.Read(ref _handoversTimedOut);

    private long _handoversTimedOut;

    /// <summary>Graceful stop (SIGTERM): claims handed over (draining), then addresses removed, Lease released, status says so.</summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        if (_stopped)
        {
            return;
        }

        await DrainAsync(ct).ConfigureAwait(false);
        _stopped = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        await WhenStoppedAsync().ConfigureAwait(false);

        // Routes first: the network stops sending traffic here before the addresses go.
        if (_bgp is not null)
        {
            await _bgp.ShutdownAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }

        var removed = _dataplane?.RemoveAll() ?? 0;
        LogStopped(_logger, removed);
        try
        {
            await _lease.ReleaseAsync(ct).ConfigureAwait(false);
            await _status.WriteAsync([], Interfaces(), fenced: false, stopping: true, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or OperationCanceledException)
        {
            LogReleaseFailed(_logger, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _stop.CancelAsync().ConfigureAwait(false);
            await WhenStoppedAsync().ConfigureAwait(false);
        }

        if (_bgp is not null)
        {
            await _bgp.DisposeAsync().ConfigureAwait(false);
        }

        if (_endpoint is not null)
        {
            await _endpoint.DisposeAsync().ConfigureAwait(false);
        }

        _heartbeats.Link?.Dispose();
        _dataplane?.Dispose();
        _stop.Dispose();
    }

    /// <summary>Waits for the loops; a loop that ended with an error has logged it already, and stopping goes on.</summary>
    private async Task WhenStoppedAsync()
    {
        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogPassFailed(_logger, $"while stopping: {e.Message}");
        }
    }

    private bool Mine(IpClaim claim) => claim.Spec.Nodes.Contains(_options.Node, StringComparer.Ordinal);

    /// <summary>Whether <paramref name="node"/>'s IPNode status says it holds the address.</summary>
    private bool HeldBy(string node, DesiredAddress want) =>
        _ipNodes.Get(node)?.Status?.Addresses is { } held
        && held.Any(a => a.State == AddressState.Held && a.PrefixLength == want.PrefixLength && System.Net.IPAddress.TryParse(a.Address, out var ip) && ip.Equals(want.Address));

    private void Wake() => _wake.Set();

    /// <summary>The interfaces once the loops are over (stopping); none when netlink fails then.</summary>
    private IReadOnlyList<InterfaceState> Interfaces()
    {
        try
        {
            return _dataplane?.Interfaces() ?? [];
        }
        catch (NetlinkException)
        {
            return [];
        }
    }

    [LoggerMessage(EventId = 540, Level = LogLevel.Information, Message = "connections chained to the nodes handing addresses over: {Chains}")]
    private static partial void LogChained(ILogger logger, string chains);

    [LoggerMessage(EventId = 541, Level = LogLevel.Warning, Message = "cannot chain connections during moves (they are reset when an address moves): {Error}")]
    private static partial void LogChainFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "agent for node {Node} in network namespace {Netns}: {Marked} marked addresses there at start")]
    private static partial void LogStarting(ILogger logger, string node, string netns, int marked);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "stopped: removed {Removed} addresses, releasing the Lease")]
    private static partial void LogStopped(ILogger logger, int removed);

    [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "could not release the Lease: {Error}")]
    private static partial void LogReleaseFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 503, Level = LogLevel.Warning, Message = "Lease renewal failing ({Error}); addresses stay until {Until:O}")]
    private static partial void LogRenewFailing(ILogger logger, string error, DateTime until);

    [LoggerMessage(EventId = 504, Level = LogLevel.Information, Message = "Lease renewed again")]
    private static partial void LogRenewBack(ILogger logger);

    [LoggerMessage(EventId = 505, Level = LogLevel.Warning, Message = "pass failed, will retry: {Error}")]
    private static partial void LogPassFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 506, Level = LogLevel.Warning, Message = "fenced: the Lease ran out at {Until:O}; removing the addresses of single-owner claims (those of All claims stay)")]
    private static partial void LogFenced(ILogger logger, DateTime until);

    [LoggerMessage(EventId = 507, Level = LogLevel.Information, Message = "Lease valid again; taking claims back")]
    private static partial void LogUnfenced(ILogger logger);

    [LoggerMessage(EventId = 508, Level = LogLevel.Information, Message = "removed {Removed} addresses while fenced")]
    private static partial void LogDropped(ILogger logger, int removed);

    [LoggerMessage(EventId = 509, Level = LogLevel.Warning, Message = "{Address}: {State}: {Message}")]
    private static partial void LogNotHeld(ILogger logger, string address, string state, string message);

    [LoggerMessage(EventId = 511, Level = LogLevel.Debug, Message = "pass: fenced {Fenced}, lease valid until {Until:O}")]
    private static partial void LogPass(ILogger logger, bool fenced, DateTime until);

    [LoggerMessage(EventId = 516, Level = LogLevel.Warning, Message = "not renewing the Lease: {Why}")]
    private static partial void LogNotRenewing(ILogger logger, string why);

    [LoggerMessage(EventId = 530, Level = LogLevel.Information, Message = "link {Link} is up again: its addresses are announced again at the next pass")]
    private static partial void LogReannounced(ILogger logger, string link);

    [LoggerMessage(EventId = 531, Level = LogLevel.Information, Message = "a neighbour entry on link {Link} was deleted (a flush?): its addresses are announced again at the next pass")]
    private static partial void LogNeighbourFlushed(ILogger logger, int link);

    [LoggerMessage(EventId = 240, Level = LogLevel.Information, Message = "stopping: draining, {Claims} claims to hand over to other nodes")]
    private static partial void LogDraining(ILogger logger, int claims);

    [LoggerMessage(EventId = 241, Level = LogLevel.Information, Message = "drained in {Ms:0} ms: every claim handed over")]
    private static partial void LogDrained(ILogger logger, double ms);

    [LoggerMessage(EventId = 242, Level = LogLevel.Warning, Message = "stopping: claims not handed over within {Seconds} s ({Claims} still name this node); removing them now")]
    private static partial void LogDrainTimedOut(ILogger logger, double seconds, int claims);
}
