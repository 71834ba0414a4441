using System.Net;
using System.Net.Sockets;
using Extip.Netlink.Wire;

namespace Extip.Netlink.L2;

/// <summary>
/// Announces addresses the node just took on an Ethernet interface: a burst at once, then a few
/// repeats (for neighbours that missed it, or whose entry was too fresh to override).
/// </summary>
public sealed class Announcer(PacketSocket socket)
{
    /// <summary>Frames sent at once.</summary>
    public int Burst { get; init; } = 3;

    /// <summary>Delays of the repeats, from the burst.</summary>
    public IReadOnlyList<TimeSpan> Repeats { get; init; } = [TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(1000), TimeSpan.FromMilliseconds(2000)];

    public long FramesSent => Interlocked.Read(ref _sent);

    private long _sent;

    public static byte[] FrameFor(Link link, IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork
        ? Frames.GratuitousArp(link.Mac, address)
        : Frames.UnsolicitedNeighborAdvertisement(link.Mac, address);

    /// <summary>Sends the burst now and the repeats later, unless cancelled (the address left).</summary>
    public async Task AnnounceAsync(Link link, IPAddress address, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(link);
        if (!link.HasNeighbours)
        {
            return;
        }

        var frame = FrameFor(link, address);
        for (var i = 0; i < Burst; i++)
        {
            Send(link, frame);
        }

        var elapsed = TimeSpan.Zero;
        foreach (var at in Repeats)
        {
            await Task.Delay(at - elapsed, ct).ConfigureAwait(false);
            elapsed = at;
            Send(link, frame);
        }
    }

    private void Send(Link link, byte[] frame)
    {
        socket.Send(link.Index, frame);
        Interlocked.Increment(ref _sent);
    }
}
