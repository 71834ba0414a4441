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

    /// <summary>The clock the repeats wait on.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Delays of the repeats, from the burst.</summary>
    /// <remarks>
    /// Dense in the first second: a neighbour may ignore an update for its lock time (1 s by
    /// default in Linux) after its entry last changed, so a repeat lands soon after that ends.
    /// </remarks>
    public IReadOnlyList<TimeSpan> Repeats { get; init; } = Schedule;

    /// <summary>The default <see cref="Repeats"/>; fewer repeats are its first ones.</summary>
    public static readonly IReadOnlyList<TimeSpan> Schedule = [.. new[] { 100, 250, 500, 750, 1000, 1250, 1500, 2000, 3000 }.Select(ms => TimeSpan.FromMilliseconds(ms))];

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
            await Task.Delay(at - elapsed, Time, ct).ConfigureAwait(false);
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
