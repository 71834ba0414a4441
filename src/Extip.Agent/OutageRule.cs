using Extip.Agent.Peers;
using Extip.Kubernetes.Models;
using Microsoft.Extensions.Logging;

namespace Extip.Agent;

/// <summary>
/// Whether a fenced agent (its Lease run out) keeps its single-owner addresses: only while the
/// outage is everyone's, as the peers' heartbeats tell. Remembers whether it is holding through
/// an outage, and logs each change and each new reason to let go.
/// </summary>
internal sealed partial class OutageRule(AgentOptions options, LeaseKeeper lease, PeerWitness witness, PeerHeartbeats heartbeats, ILogger logger)
{
    /// <summary>True while single-owner addresses stay through an outage of everyone.</summary>
    public bool Holding { get; private set; }

    /// <summary>A fenced pass found no single-owner claim naming this node: nothing is held through the outage.</summary>
    public void NoSingleOwner() => Set(false, NoSingleOwnerWhy);

    /// <summary>Not fenced: no outage to hold through.</summary>
    public void Clear() => (Holding, _why) = (false, null);

    /// <summary>
    /// The fencing rule for single-owner claims once the Lease has run out: keep the address
    /// (true) only while no peer has reached the API server without a break for half a Lease since
    /// this agent last did, heard over the network the claim serves (for L2, its interface); then
    /// the outage is everyone's (or the others are only just back from it) and the controller does
    /// not count this node dead. A peer with such a streak means this node is the one cut off.
    /// </summary>
    public Func<IpClaim, bool> Verdicts()
    {
        if (heartbeats.Link is null || !heartbeats.HasKey)
        {
            // No way to hear the peers: fence, as a node that may be the one cut off must.
            Set(false, "no peer heartbeat (port 0 or no key)");
            return _ => false;
        }

        if (options.OutageHold is { } hold && options.Time.GetUtcNow().UtcDateTime > lease.ValidUntil + hold)
        {
            Set(false, $"kept them for the longest hold ({hold.TotalSeconds:0.###} s)");
            return _ => false;
        }

        // The controller counts this agent dead once another has renewed without a break for half
        // a Lease since this one last did; a heartbeat tells of that up to half a renew interval
        // late, so this agent asks a little less.
        var since = lease.LastReached;
        var streak = options.LeaseDuration / 2 - options.RenewInterval / 2;
        var kept = 0;
        string? cutOffBy = null;
        bool Verdict(IpClaim c)
        {
            var l2 = c.Spec.AnnounceMode == Extip.Core.Pools.AnnounceMode.L2;
            var peer = witness.ConfirmsLoss(since, streak, iface => !l2 || iface == c.Spec.Interface);
            if (peer is null)
            {
                kept++;
                return true;
            }

            cutOffBy ??= peer;
            return false;
        }

        return c =>
        {
            var keep = Verdict(c);
            Set(kept > 0, cutOffBy is null ? NoSingleOwnerWhy : $"{cutOffBy} reached the API server after this node lost it, for half a Lease without a break: this node is the one cut off");
            return keep;
        };
    }

    /// <summary>Records whether single-owner addresses are kept through an outage; logs each change, and each new reason to fence.</summary>
    private void Set(bool keeping, string why)
    {
        if (keeping == Holding && (keeping || why == _why))
        {
            return;
        }

        if (keeping)
        {
            LogHoldingThroughOutage(logger);
        }
        else if (why != NoSingleOwnerWhy)
        {
            LogOutageHoldOver(logger, why);
        }

        Holding = keeping;
        _why = keeping ? null : why;
    }

    private const string NoSingleOwnerWhy = "no single-owner claims";
    private string? _why;

    [LoggerMessage(EventId = 512, Level = LogLevel.Warning, Message = "the Lease ran out, but no peer has reached the API server since this node lost it: an outage of the control plane, so the addresses of single-owner claims stay")]
    private static partial void LogHoldingThroughOutage(ILogger logger);

    [LoggerMessage(EventId = 513, Level = LogLevel.Warning, Message = "fencing the addresses of single-owner claims: {Why}")]
    private static partial void LogOutageHoldOver(ILogger logger, string why);
}
