using Extip.Core.Concurrency;

namespace Extip.Controller;

/// <summary>
/// The requests for the session's two whole-state passes: the claim pass (IPClaims equal to what
/// the scheduler computes) and the status pass (IPPool and BGPPeer status). Anyone may ask; many
/// asks before a pass runs make one pass.
/// </summary>
internal sealed class Passes(TimeProvider time)
{
    public Wakeup Claims { get; } = new(time);

    public Wakeup Status { get; } = new(time);

    public void RequestClaims() => Claims.Set();

    public void RequestStatus() => Status.Set();

    /// <summary>What is held changed: the claims and the pools' use both follow.</summary>
    public void HeldChanged()
    {
        Claims.Set();
        Status.Set();
    }
}
