using System.Threading.Channels;
using Extip.Netlink.Wire;

namespace Extip.Netlink;

/// <summary>A change the kernel announced. <see cref="Overflow"/> means some were lost: list again.</summary>
public abstract record NetlinkChange
{
    public sealed record LinkChange(Link Link, bool Removed) : NetlinkChange;

    public sealed record AddressChange(AddressEntry Address, bool Removed) : NetlinkChange;

    public sealed record RouteChange(Route Route, bool Removed) : NetlinkChange;

    /// <summary>A neighbour (ARP/NDP) entry added, changed or deleted on a link; <c>State</c> is its NUD_* state.</summary>
    public sealed record NeighbourChange(int LinkIndex, ushort State, bool Removed) : NetlinkChange
    {
        /// <summary>NUD_NOARP | NUD_PERMANENT: entries nobody resolved, which a flush leaves alone.</summary>
        public bool Static => (State & (0x40 | 0x80)) != 0;
    }

    public sealed record Overflow : NetlinkChange;
}

/// <summary>
/// Follows link, address and route changes of one namespace (rtnetlink multicast groups). A
/// background thread reads the socket; consumers read <see cref="Changes"/>.
/// </summary>
public sealed class NetlinkMonitor : IDisposable
{
    private readonly NetlinkSocket _socket;
    private readonly Channel<NetlinkChange> _changes = Channel.CreateUnbounded<NetlinkChange>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly Thread _thread;
    private volatile bool _stopping;

    private NetlinkMonitor(NetlinkSocket socket)
    {
        _socket = socket;
        _thread = new Thread(Run) { IsBackground = true, Name = $"netlink monitor {socket.Namespace}" };
        _thread.Start();
    }

    public ChannelReader<NetlinkChange> Changes => _changes.Reader;

    public static NetlinkMonitor Open(string? netns = null, bool links = true, bool addresses = true, bool routes = false, bool neighbours = false)
    {
        var groups = new List<int>();
        if (links)
        {
            groups.Add(RtnlGroup.Link);
        }

        if (addresses)
        {
            groups.AddRange([RtnlGroup.IPv4Addr, RtnlGroup.IPv6Addr]);
        }

        if (routes)
        {
            groups.AddRange([RtnlGroup.IPv4Route, RtnlGroup.IPv6Route]);
        }

        if (neighbours)
        {
            groups.Add(RtnlGroup.Neigh);
        }

        return new NetlinkMonitor(NetlinkSocket.Open(netns, groups, 4 << 20));
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
        _socket.Dispose();
    }

    private void Run()
    {
        var buffer = new byte[1 << 18];
        while (!_stopping)
        {
            int n;
            try
            {
                n = _socket.Receive(buffer, 200);
            }
            catch (NetlinkException e) when (e.Errno == Native.Libc.Enobufs)
            {
                _changes.Writer.TryWrite(new NetlinkChange.Overflow());
                continue;
            }
            catch (NetlinkException)
            {
                if (_stopping)
                {
                    break;
                }

                _changes.Writer.TryWrite(new NetlinkChange.Overflow());
                Thread.Sleep(100);
                continue;
            }

            var data = buffer.AsSpan(0, n);
            while (NetlinkHeader.TryRead(data, out var h))
            {
                var payload = data[NetlinkHeader.Size..h.Length];
                try
                {
                    NetlinkChange? change = h.Type switch
                    {
                        Rtm.NewLink or Rtm.DelLink => new NetlinkChange.LinkChange(Rtnl.DecodeLink(payload), h.Type == Rtm.DelLink),
                        Rtm.NewAddr or Rtm.DelAddr => new NetlinkChange.AddressChange(Rtnl.DecodeAddress(payload), h.Type == Rtm.DelAddr),
                        Rtm.NewRoute or Rtm.DelRoute => new NetlinkChange.RouteChange(Rtnl.DecodeRoute(payload), h.Type == Rtm.DelRoute),
                        Rtm.NewNeigh or Rtm.DelNeigh => DecodeNeighbour(payload, h.Type == Rtm.DelNeigh),
                        _ => null,
                    };
                    if (change is not null)
                    {
                        _changes.Writer.TryWrite(change);
                    }
                }
                catch (NetlinkFormatException)
                {
                    _changes.Writer.TryWrite(new NetlinkChange.Overflow());
                }

                data = data[Math.Min(data.Length, MessageWriter.Align(h.Length))..];
            }
        }

        _changes.Writer.TryComplete();
    }

    /// <summary>struct ndmsg: family, 3 bytes of padding, ifindex (s32), state (u16), flags, type.</summary>
    private static NetlinkChange.NeighbourChange DecodeNeighbour(ReadOnlySpan<byte> payload, bool removed) =>
        payload.Length < 12
            ? throw new NetlinkFormatException($"neighbour message of {payload.Length} bytes")
            : new(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(payload[4..]), System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(payload[8..]), removed);
}
