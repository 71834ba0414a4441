using System.Net;
using Extip.Agent.Bgp;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Extip.Kubernetes.Models;

namespace Extip.Agent;

/// <summary>One pass: the node's addresses made equal to its claims, fenced when the Lease has run out, handed over make-before-break, routes announced only once held and withdrawn before removal.</summary>
public sealed partial class ExtipAgent
{
    /// <summary>The addresses of this node's claims that pass <paramref name="keep"/>, and those claims by name.</summary>
    private (List<DesiredAddress> Desired, Dictionary<string, IpClaim> Claims) Desired(Func<IpClaim, bool> keep, uint lifetime)
    {
        var desired = new List<DesiredAddress>();
        var mine = new Dictionary<string, IpClaim>(StringComparer.Ordinal);
        if (!_claims.IsReady)
        {
            return (desired, mine);
        }

        foreach (var claim in _claims.Items.Where(c => Mine(c) && keep(c)))
        {
            if (IPAddress.TryParse(claim.Spec.Address, out var ip))
            {
                desired.Add(new DesiredAddress(ip, claim.Spec.PrefixLength, claim.Spec.Interface, claim.Spec.AnnounceMode, claim.Metadata.Name) { LifetimeSeconds = lifetime });
                mine[claim.Metadata.Name] = claim;
            }
        }

        return (desired, mine);
    }

    /// <summary>
    /// Before a pass changes the addresses: the routes of what is going are withdrawn first. Only
    /// once this agent has announced what it holds: until then it has announced nothing, and the
    /// first set it hands the speaker makes the RIB known, which sends End-of-RIB. After a restart
    /// the router keeps the last life's routes as stale until that End-of-RIB (graceful restart):
    /// an empty set sent before the addresses were looked at would have it drop them all, and take
    /// them back an instant later.
    /// </summary>
    private void WithdrawFirst(IReadOnlyDictionary<Prefix, RouteAttributes> routes)
    {
        if (_announcedHeld)
        {
            _routes?.Announce(routes);
        }
    }

    /// <summary>After a pass: the routes of the addresses held, announced.</summary>
    private void AnnounceHeld(IReadOnlyDictionary<Prefix, RouteAttributes> routes)
    {
        if (_routes is not null)
        {
            _routes.Announce(routes);
            _announcedHeld = true;
        }
    }

    private async Task PassAsync(CancellationToken ct)
    {
        var fenced = _lease.ValidUntil <= Now;
        LogPass(_logger, fenced, _lease.ValidUntil);
        if (fenced != _fenced)
        {
            if (fenced)
            {
                LogFenced(_logger, _lease.ValidUntil);

                // What the claims said before the API was lost may be stale by the time it is back.
                _relistsAtFence = _claims.Relists;
                _claims.RequestRelist();
            }
            else
            {
                LogUnfenced(_logger);
            }

            _fenced = fenced;
        }

        IReadOnlyList<AddressState> states;
        if (fenced)
        {
            // Only single-owner addresses are fenced: another node may be taking them over. The
            // addresses of All claims stay (several holders are normal there, and the network,
            // BFD or the router's hold time, judges whether this node is alive): an API server
            // outage must not take every address off every node.
            var outage = _outage.Verdicts();
            var judged = false;
            bool Keep(IpClaim c)
            {
                if (c.Spec.SharedByNodes)
                {
                    return true;
                }

                judged = true;
                return outage(c);
            }

            // What stays lives as long as this agent does: each pass (every renew interval while
            // fenced) pushes its kernel lifetime a Lease duration on; a hung agent's go by themselves.
            var (kept, mine) = Desired(Keep, KernelLifetime(_options.LeaseDuration));

            // No single-owner claim names this node any more (moved while it was cut off): it
            // holds none through the outage, whatever an earlier pass judged.
            if (!judged)
            {
                _outage.NoSingleOwner();
            }

            ChainConnections([], mine, null);
            var before = _dataplane!.Marked().Count;
            var keptNames = kept.Select(d => d.Claim).ToHashSet(StringComparer.Ordinal);
            WithdrawFirst(RouteMapping.Routes(States.Where(s => keptNames.Contains(s.Want.Claim)), mine));
            states = _dataplane.Apply(kept);
            AnnounceHeld(RouteMapping.Routes(states, mine));
            var removed = before - states.Count(s => s.State == AddressState.Held);
            if (removed > 0)
            {
                LogDropped(_logger, removed);
            }
        }
        else if (!_claims.IsReady || AwaitingRelist)
        {
            _outage.Clear();

            // Keep what is there until the claims are known (or the Lease runs out), and after a
            // fence until they have been listed again: the node may have been cut off while its
            // claims moved, and must not take back what another node holds now. What is kept
            // lives on with the Lease: a relist slower than the kernel lifetimes the fenced passes
            // set (an API server just back, busy) must not remove an address it then adds again.
            _dataplane!.Extend(KernelLifetime(_lease.ValidUntil - Now));
            return;
        }
        else
        {
            _outage.Clear();
            // The kernel fence: no address outlives this agent's Lease by more than the controller's
            // margin, even if the agent hangs right after this pass.
            var lifetime = KernelLifetime(_lease.ValidUntil - Now);
            var (desired, mine) = Desired(_ => true, lifetime);

            // Make-before-break: what moved to other nodes stays (announced) until they hold it,
            // and a BGP address stays a moment after its route was withdrawn.
            var handover = _handover.Pass(States, desired.Select(d => d.Claim).ToHashSet(StringComparer.Ordinal), _claims.Get, HeldBy, _options.Time.GetTimestamp(), canSilenceL2: _chainError is null);
            Interlocked.Exchange(ref _handoversTimedOut, _handover.TimedOut);
            _handoverRecheck = handover.Recheck;
            ChainConnections(desired, mine, handover);
            foreach (var (want, claim) in handover.Kept)
            {
                desired.Add(want with { LifetimeSeconds = lifetime, Quiet = true });
                mine[want.Claim] = claim;
            }

            // Withdraw what is going before its address goes; announce what is new once it is there.
            var routed = desired.Select(d => d.Claim).Where(c => !handover.Withdrawn.Contains(c)).ToHashSet(StringComparer.Ordinal);
            WithdrawFirst(RouteMapping.Routes(States.Where(s => routed.Contains(s.Want.Claim)), mine));
            states = _dataplane!.Apply(desired);
            AnnounceHeld(RouteMapping.Routes(states.Where(s => routed.Contains(s.Want.Claim)), mine));
            foreach (var s in states.Where(s => s.State != AddressState.Held))
            {
                LogNotHeld(_logger, s.Want.ToString(), s.State, s.Message ?? string.Empty);
            }
        }

        States = states;

        // Read here, on the pass's netlink socket, not from the status loop beside it.
        var interfaces = _dataplane!.Interfaces();
        _heartbeats.Interfaces = interfaces;

        // The status goes out from its own loop: a slow or absent API server never delays the
        // dataplane (least of all the fencing).
        _status.Post(states, interfaces, fenced);
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>
    /// Connection-aware moves, before the addresses change: the single-owner addresses this node
    /// holds that a live peer (heard within a renew interval) still holds too have their unknown
    /// TCP segments chained to it; the L2 addresses this node hands over, once taken, are no
    /// longer answered for. A dead old holder gets nothing chained: its connections are gone, and
    /// a reset tells their clients at once.
    /// </summary>
    private void ChainConnections(IEnumerable<DesiredAddress> own, IReadOnlyDictionary<string, IpClaim> mine, HandoverPass? handover)
    {
        var others = _ipNodes.Items.Where(n => n.Metadata.Name != _options.Node && _witness.Heard(n.Metadata.Name, _options.RenewInterval));
        var single = own.Where(d => mine.TryGetValue(d.Claim, out var c) && !c.Spec.SharedByNodes);
        var chained = _options.ChainConnections ? Chaining.Plan(single, others, _heartbeats.Interfaces) : [];
        var silenced = handover?.Kept.Where(k => k.Want.Mode == Extip.Core.Pools.AnnounceMode.L2 && handover.Taken.Contains(k.Want.Claim)).Select(k => k.Want.Address).ToList() ?? [];
        var chains = new ConnectionChains(chained, silenced);
        var error = _dataplane!.Chain(chains);
        var said = (chained.Count == 0 ? "none" : string.Join(", ", chained)) + (silenced.Count > 0 ? $"; not answering ARP for {string.Join(", ", silenced)}" : string.Empty);
        if (error is not null && error != _chainError)
        {
            LogChainFailed(_logger, error);
        }
        else if (error is null && said != _chained)
        {
            LogChained(_logger, said);
            _chained = said;
        }

        _chainError = error;
    }

    /// <summary>
    /// A kernel lifetime (whole seconds, at least 1) for what is left of a validity: rounded up
    /// when that overshoots by half a second or less, else down; the kernel removes the address
    /// within about 0.2 s of its lifetime (measured). The controller's fence margin (0.75 s by
    /// default) covers the overshoot, except when less than a second is left (a failing Lease).
    /// </summary>
    public static uint KernelLifetime(TimeSpan left)
    {
        var seconds = Math.Max(0, left.TotalSeconds);
        var up = Math.Ceiling(seconds);
        var down = Math.Floor(seconds);
        return (uint)Math.Max(1, up - seconds <= 0.5 || down < 1 ? up : down);
    }
}
