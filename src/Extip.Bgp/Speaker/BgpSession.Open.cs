using System.Net.Sockets;
using Extip.Bgp.Wire;
using Extip.Core.Concurrency;

namespace Extip.Bgp.Speaker;

/// <summary>OPEN messages (ours, and the checks of the peer's, §6.2), NOTIFICATIONs and the timers' jitter (§10).</summary>
public sealed partial class BgpSession
{
    private OpenMessage OurOpen()
    {
        var caps = new List<Capability>
        {
            new MultiprotocolCapability(AfiSafi.Of(Options.Family)),
            new RouteRefreshCapability(),
            new FourOctetAsCapability(Options.LocalAs),
        };
        if (Options.GracefulRestart)
        {
            // Our addresses stay on the node while the agent restarts: forwarding is preserved.
            caps.Add(new GracefulRestartCapability(Options.RestartState && !_wasEstablished, Options.RestartTime, [(AfiSafi.Of(Options.Family), Options.ForwardingPreserved)]));
        }

        var hold = (ushort)Options.HoldTime.TotalSeconds;
        return new OpenMessage(4, Options.LocalAs > ushort.MaxValue ? AsPathAttribute.AsTrans : (ushort)Options.LocalAs, hold, Options.RouterId, caps);
    }

    /// <summary>§6.2: the checks on the peer's OPEN; each failure is the NOTIFICATION it names.</summary>
    private void CheckOpen(OpenMessage open)
    {
        if (open.Asn != Options.PeerAs)
        {
            var two = open.MyAs;
            throw new BgpProtocolException(BgpError.OpenMessage, BgpError.BadPeerAs, $"the peer says AS {open.Asn}, expected {Options.PeerAs}", [(byte)(two >> 8), (byte)two]);
        }

        if (open.HoldTime is 1 or 2)
        {
            throw new BgpProtocolException(BgpError.OpenMessage, BgpError.UnacceptableHoldTime, $"hold time {open.HoldTime} s");
        }

        if (open.BgpId == 0 || (Options.IsInternal && open.BgpId == Options.RouterId))
        {
            throw new BgpProtocolException(BgpError.OpenMessage, BgpError.BadBgpIdentifier, $"identifier {open.Identifier}");
        }

        if (!open.Capabilities.OfType<MultiprotocolCapability>().Any(c => c.Family == AfiSafi.Of(Options.Family))
            && open.Capabilities.OfType<MultiprotocolCapability>().Any())
        {
            // RFC 4760 §8 / RFC 5492: no family in common; nothing could be exchanged.
            throw new BgpProtocolException(BgpError.OpenMessage, BgpError.UnsupportedCapability, $"the peer offers no {AfiSafi.Of(Options.Family)}",
                [Capability.MultiprotocolCode, 4, .. new MultiprotocolCapability(AfiSafi.Of(Options.Family)).Value()]);
        }
    }

    private async Task NotifyAsync(byte code, byte subcode, byte[] data)
    {
        Connection? conn;
        lock (_gate)
        {
            conn = _conn;
        }

        if (conn is null)
        {
            return;
        }

        LogNotify(_logger, Options.Name, BgpError.Describe(code, subcode));
        try
        {
            using var timeout = new Deadline(Options.Time, TimeSpan.FromSeconds(1), CancellationToken.None);
            await conn.SendAsync(new NotificationMessage(code, subcode, data), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
        }
    }

    private async Task RejectAsync(IBgpConnection other, byte subcode, CancellationToken ct)
    {
        LogRejected(_logger, Options.Name, BgpError.Describe(BgpError.Cease, subcode));
        try
        {
            // The rejected connection gets an OPEN first, as §6.8 asks, then the Cease.
            using var conn = new Connection(other, outgoing: false, Options.Time);
            using var timeout = new Deadline(Options.Time, TimeSpan.FromSeconds(1), ct);
            await conn.SendAsync(OurOpen(), timeout.Token).ConfigureAwait(false);
            await conn.SendAsync(new NotificationMessage(BgpError.Cease, subcode, []), timeout.Token).ConfigureAwait(false);
            conn.Shutdown();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>RFC 4271 §10: timers jittered to 75–100 % of their value.</summary>
    private static TimeSpan Jitter(TimeSpan t) => t == Timeout.InfiniteTimeSpan ? t : t * (0.75 + (Random.Shared.NextDouble() * 0.25));
}
