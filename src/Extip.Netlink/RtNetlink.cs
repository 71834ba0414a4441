using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Extip.Netlink.Wire;

namespace Extip.Netlink;

/// <summary>
/// An rtnetlink client for one network namespace: links, addresses and routes, listed, added and
/// deleted by request/acknowledge over one socket. Thread-safe (one request at a time).
/// Requests in <see cref="AddAddresses"/> and <see cref="DeleteAddresses"/> are pipelined: many
/// messages per send, one acknowledgement each.
/// </summary>
public sealed class RtNetlink : IDisposable
{
    private const int TimeoutMs = 10_000;
    private readonly Lock _gate = new();
    private readonly NetlinkSocket _socket;
    private readonly MessageWriter _writer = new();
    private readonly byte[] _buffer = new byte[1 << 18];
    private uint _seq = (uint)Environment.TickCount;

    private RtNetlink(NetlinkSocket socket) => _socket = socket;

    public string? Namespace => _socket.Namespace;

    /// <summary>A client for <paramref name="netns"/> (null: this process's namespace).</summary>
    public static RtNetlink Open(string? netns = null) => new(NetlinkSocket.Open(netns));

    public IReadOnlyList<Link> Links() => Dump(Rtm.GetLink, Rtnl.IfInfo(), Rtm.NewLink, Rtnl.DecodeLink);

    public Link? Link(string name) => Links().FirstOrDefault(l => l.Name == name);

    public Link? Link(int index) => Links().FirstOrDefault(l => l.Index == index);

    public IReadOnlyList<AddressEntry> Addresses(AddressFamily family = AddressFamily.Unspecified) =>
        Dump(Rtm.GetAddr, Rtnl.IfAddr(family, 0, 0, 0, 0), Rtm.NewAddr, Rtnl.DecodeAddress);

    public IReadOnlyList<Route> Routes(AddressFamily family = AddressFamily.Unspecified) =>
        Dump(Rtm.GetRoute, Rtnl.RtMsg(family, 0, 0, 0, 0, 0), Rtm.NewRoute, Rtnl.DecodeRoute);

    /// <summary>Sets an interface up or down.</summary>
    public void SetUp(int index, bool up)
    {
        lock (_gate)
        {
            _writer.Clear();
            _writer.Begin(Rtm.NewLink, NetlinkHeader.FRequest | NetlinkHeader.FAck, ++_seq, Rtnl.IfInfo(index, up ? LinkFlags.Up : 0, LinkFlags.Up)).End();
            Exchange($"set interface #{index} {(up ? "up" : "down")}", 1);
        }
    }

    /// <summary>
    /// Sets one of an interface's IPv4 settings (<c>/proc/sys/net/ipv4/conf/IFACE/…</c>) through
    /// rtnetlink (IFLA_AF_SPEC / AF_INET / IFLA_INET_CONF), which needs only CAP_NET_ADMIN: in a
    /// container /proc/sys is read-only even where the network namespace is the host's.
    /// </summary>
    /// <param name="index">The interface.</param>
    /// <param name="setting">The setting's number (IPV4_DEVCONF_*), e.g. <see cref="Rtnl.Ipv4DevconfPromoteSecondaries"/>.</param>
    /// <param name="value">Its new value.</param>
    public void SetIpv4Setting(int index, ushort setting, uint value)
    {
        lock (_gate)
        {
            _writer.Clear();
            _writer.Begin(Rtm.NewLink, NetlinkHeader.FRequest | NetlinkHeader.FAck, ++_seq, Rtnl.IfInfo(index, 0, 0))
                .BeginNest(Rtnl.IflaAfSpec)
                .BeginNest((ushort)AddressFamily.InterNetwork)
                .BeginNest(Rtnl.IflaInetConf)
                .U32(setting, value)
                .EndNest()
                .EndNest()
                .EndNest()
                .End();
            Exchange($"set IPv4 setting {setting} of interface #{index} to {value}", 1);
        }
    }

    /// <summary>The spec of one address to add or delete.</summary>
    public sealed record AddressSpec(int InterfaceIndex, IPAddress Address, int PrefixLength, byte Protocol = 0, bool NoDad = true, byte Scope = 0)
    {
        /// <summary>
        /// The kernel's valid (and preferred) lifetime in whole seconds: the kernel itself removes
        /// the address when it runs out without a refresh. Null: forever.
        /// </summary>
        public uint? LifetimeSeconds { get; init; }

        /// <summary>
        /// Never a source address, never a subnet route: a preferred lifetime of 0 (the kernel
        /// picks it as a source for no new connection) and IFA_F_NOPREFIXROUTE (no route for its
        /// subnet appears in the main table). The kernel still answers for it: its local route,
        /// ARP and neighbour solicitations are not affected.
        /// </summary>
        public bool NotASource { get; init; }

        public override string ToString() => $"{Address}/{PrefixLength} on interface #{InterfaceIndex}";
    }

    public void AddAddress(AddressSpec spec) => ThrowFirst(AddAddresses([spec]));

    public void DeleteAddress(AddressSpec spec) => ThrowFirst(DeleteAddresses([spec]));

    /// <summary>Adds the addresses, pipelined; returns one result per address (null when it was added).</summary>
    public IReadOnlyList<NetlinkException?> AddAddresses(IReadOnlyList<AddressSpec> specs) =>
        Pipeline(specs, Rtm.NewAddr, NetlinkHeader.FCreate | NetlinkHeader.FExcl, "add address");

    /// <summary>
    /// Sets the lifetimes of addresses that are there (NLM_F_REPLACE; an address deleted meanwhile
    /// is added again, so call it only for addresses that are wanted); one result per address.
    /// </summary>
    public IReadOnlyList<NetlinkException?> ReplaceAddresses(IReadOnlyList<AddressSpec> specs) =>
        Pipeline(specs, Rtm.NewAddr, NetlinkHeader.FCreate | NetlinkHeader.FReplace, "refresh address");

    /// <summary>Deletes the addresses, pipelined; returns one result per address (null when it was deleted).</summary>
    public IReadOnlyList<NetlinkException?> DeleteAddresses(IReadOnlyList<AddressSpec> specs) =>
        Pipeline(specs, Rtm.DelAddr, 0, "delete address");

    public void AddRoute(Route route, bool replace = false) => RouteRequest(route, Rtm.NewRoute, (ushort)(NetlinkHeader.FCreate | (replace ? NetlinkHeader.FReplace : NetlinkHeader.FExcl)), "add route");

    public void DeleteRoute(Route route) => RouteRequest(route, Rtm.DelRoute, 0, "delete route");

    public void Dispose() => _socket.Dispose();

    private static void ThrowFirst(IReadOnlyList<NetlinkException?> results)
    {
        if (results.FirstOrDefault(e => e is not null) is { } e)
        {
            throw e;
        }
    }

    private void RouteRequest(Route route, ushort type, ushort flags, string what)
    {
        lock (_gate)
        {
            _writer.Clear();
            _writer.Begin(type, (ushort)(NetlinkHeader.FRequest | NetlinkHeader.FAck | flags), ++_seq,
                Rtnl.RtMsg(route.Destination.AddressFamily, route.PrefixLength, route.Table < 256 ? (byte)route.Table : (byte)252, route.Protocol, route.Scope, route.Type));
            _writer.Ip(Rtnl.RtaDst, route.Destination);
            if (route.Table >= 256)
            {
                _writer.U32(Rtnl.RtaTable, route.Table);
            }

            if (route.Priority is { } prio)
            {
                _writer.U32(Rtnl.RtaPriority, prio);
            }

            if (route.PreferredSource is { } src)
            {
                _writer.Ip(Rtnl.RtaPrefsrc, src);
            }

            if (route.NextHops.Count == 1)
            {
                var h = route.NextHops[0];
                if (h.Gateway is not null)
                {
                    _writer.Ip(Rtnl.RtaGateway, h.Gateway);
                }

                if (h.InterfaceIndex != 0)
                {
                    _writer.U32(Rtnl.RtaOif, (uint)h.InterfaceIndex);
                }
            }
            else if (route.NextHops.Count > 1)
            {
                _writer.BeginNest(Rtnl.RtaMultipath, flagged: false);
                foreach (var h in route.NextHops)
                {
                    var start = _writer.Length;
                    var nh = _writer.Raw(8);
                    nh[3] = (byte)(h.Weight - 1);
                    System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(nh[4..], h.InterfaceIndex);
                    if (h.Gateway is not null)
                    {
                        _writer.Ip(Rtnl.RtaGateway, h.Gateway);
                    }

                    _writer.PatchLength16(start);
                }

                _writer.EndNest();
            }

            _writer.End();
            Exchange($"{what} {route.Destination}/{route.PrefixLength}", 1);
        }
    }

    private IReadOnlyList<NetlinkException?> Pipeline(IReadOnlyList<AddressSpec> specs, ushort type, ushort flags, string what)
    {
        const int PerSend = 256;
        var results = new NetlinkException?[specs.Count];
        Span<byte> info = stackalloc byte[16];
        lock (_gate)
        {
            for (var start = 0; start < specs.Count; start += PerSend)
            {
                var end = Math.Min(specs.Count, start + PerSend);
                _writer.Clear();
                var firstSeq = _seq + 1;
                for (var i = start; i < end; i++)
                {
                    var s = specs[i];
                    _writer.Begin(type, (ushort)(NetlinkHeader.FRequest | NetlinkHeader.FAck | flags), ++_seq,
                        Rtnl.IfAddr(s.Address.AddressFamily, s.PrefixLength, s.NoDad && s.Address.AddressFamily == AddressFamily.InterNetworkV6 ? (byte)AddressEntry.FlagNoDad : (byte)0, s.Scope, s.InterfaceIndex));
                    _writer.Ip(Rtnl.IfaLocal, s.Address);
                    _writer.Ip(Rtnl.IfaAddress, s.Address);
                    if (s.Protocol != 0)
                    {
                        _writer.U8(Rtnl.IfaProto, s.Protocol);
                    }

                    if (type == Rtm.NewAddr)
                    {
                        // struct ifa_cacheinfo: preferred, valid, cstamp, tstamp (the kernel fills the stamps).
                        var lifetime = s.LifetimeSeconds ?? uint.MaxValue;
                        info.Clear();
                        BinaryPrimitives.WriteUInt32LittleEndian(info, s.NotASource ? 0 : lifetime);
                        BinaryPrimitives.WriteUInt32LittleEndian(info[4..], lifetime);
                        _writer.Attr(Rtnl.IfaCacheinfo, info);
                        if (s.NotASource)
                        {
                            // IFA_FLAGS (32 bits) takes over from ifa_flags: NODAD goes here too.
                            var v6 = s.NoDad && s.Address.AddressFamily == AddressFamily.InterNetworkV6;
                            _writer.U32(Rtnl.IfaFlags, AddressEntry.FlagNoPrefixRoute | (v6 ? AddressEntry.FlagNoDad : 0));
                        }
                    }

                    _writer.End();
                }

                var acks = Exchange(null, end - start);
                for (var i = start; i < end; i++)
                {
                    var seq = firstSeq + (uint)(i - start);
                    if (acks.TryGetValue(seq, out var err) && err.Errno != 0)
                    {
                        results[i] = new NetlinkException(err.Errno, $"{what} {specs[i]}", err.Message);
                    }
                }
            }
        }

        return results;
    }

    /// <summary>Sends what the writer holds and collects <paramref name="expected"/> acknowledgements by sequence number; throws the first error when <paramref name="what"/> is given.</summary>
    private Dictionary<uint, (int Errno, string? Message)> Exchange(string? what, int expected)
    {
        _socket.Send(_writer.Written);
        var acks = ReceiveAcks(expected);
        if (what is not null && acks.Values.FirstOrDefault(a => a.Errno != 0) is { Errno: not 0 } bad)
        {
            throw new NetlinkException(bad.Errno, what, bad.Message);
        }

        return acks;
    }

    private Dictionary<uint, (int Errno, string? Message)> ReceiveAcks(int expected)
    {
        var acks = new Dictionary<uint, (int, string?)>();
        while (acks.Count < expected)
        {
            var n = _socket.Receive(_buffer, TimeoutMs);
            if (n == 0)
            {
                throw new NetlinkException(NetlinkError.Other, $"the kernel did not acknowledge {expected - acks.Count} of {expected} netlink requests within {TimeoutMs} ms");
            }

            var data = _buffer.AsSpan(0, n);
            while (NetlinkHeader.TryRead(data, out var h))
            {
                if (h.Type == NetlinkHeader.Error)
                {
                    acks[h.Seq] = Rtnl.DecodeError(data[NetlinkHeader.Size..h.Length], h.Flags);
                }

                data = data[Math.Min(data.Length, MessageWriter.Align(h.Length))..];
            }
        }

        return acks;
    }

    private List<T> Dump<T>(ushort request, byte[] header, ushort replyType, DecodeFn<T> decode)
    {
        // A dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is repeated.
        for (var attempt = 0; ; attempt++)
        {
            lock (_gate)
            {
                var seq = ++_seq;
                _writer.Clear();
                _writer.Begin(request, NetlinkHeader.FRequest | NetlinkHeader.FDump, seq, header).End();
                _socket.Send(_writer.Written);
                var items = new List<T>();
                var interrupted = false;
                while (true)
                {
                    var n = _socket.Receive(_buffer, TimeoutMs);
                    if (n == 0)
                    {
                        throw new NetlinkException(NetlinkError.Other, $"netlink dump (type {request}) got no answer within {TimeoutMs} ms");
                    }

                    var data = _buffer.AsSpan(0, n);
                    var done = false;
                    while (NetlinkHeader.TryRead(data, out var h))
                    {
                        var payload = data[NetlinkHeader.Size..h.Length];
                        if (h.Seq == seq)
                        {
                            interrupted |= (h.Flags & NetlinkHeader.FDumpIntr) != 0;
                            if (h.Type == NetlinkHeader.Done)
                            {
                                done = true;
                            }
                            else if (h.Type == NetlinkHeader.Error)
                            {
                                var (errno, message) = Rtnl.DecodeError(payload, h.Flags);
                                if (errno != 0)
                                {
                                    throw new NetlinkException(errno, $"netlink dump (type {request})", message);
                                }

                                done = true;
                            }
                            else if (h.Type == replyType)
                            {
                                items.Add(decode(payload));
                            }
                        }

                        data = data[Math.Min(data.Length, MessageWriter.Align(h.Length))..];
                    }

                    if (done)
                    {
                        break;
                    }
                }

                if (!interrupted || attempt >= 5)
                {
                    return items;
                }
            }
        }
    }

    private delegate T DecodeFn<out T>(ReadOnlySpan<byte> payload);
}
