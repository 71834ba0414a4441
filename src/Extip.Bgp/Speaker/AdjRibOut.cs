using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Wire;

namespace Extip.Bgp.Speaker;

/// <summary>What is announced with a prefix besides the next hop (which is always the session's own address).</summary>
public sealed record RouteAttributes(IReadOnlyList<uint> Communities, IReadOnlyList<(uint Global, uint Local1, uint Local2)> LargeCommunities, uint? LocalPreference)
{
    public static readonly RouteAttributes None = new([], [], null);

    public bool Equals(RouteAttributes? other) =>
        other is not null && Communities.SequenceEqual(other.Communities) && LargeCommunities.SequenceEqual(other.LargeCommunities) && LocalPreference == other.LocalPreference;

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var c in Communities)
        {
            h.Add(c);
        }

        foreach (var c in LargeCommunities)
        {
            h.Add(c);
        }

        h.Add(LocalPreference);
        return h.ToHashCode();
    }
}

/// <summary>
/// A session's Adj-RIB-Out (RFC 4271 §3.2): what should be announced, what was sent, and the
/// difference. It packs prefixes that share attributes into as few UPDATEs as fit in 4096 bytes,
/// and sends only what changed since the last flush.
/// </summary>
public sealed class AdjRibOut
{
    private const int Room = BgpCodec.MaxMessageLength - BgpCodec.HeaderLength - 4;
    private readonly Lock _gate = new();
    private readonly Dictionary<Prefix, RouteAttributes> _desired = [];
    private readonly Dictionary<Prefix, RouteAttributes> _sent = [];
    private readonly HashSet<Prefix> _dirty = [];

    public int DesiredCount
    {
        get
        {
            lock (_gate)
            {
                return _desired.Count;
            }
        }
    }

    /// <summary>Prefixes the peer has from us (sent and not withdrawn since).</summary>
    public int SentCount
    {
        get
        {
            lock (_gate)
            {
                return _sent.Count;
            }
        }
    }

    /// <summary>Replaces the desired set with the routes of <paramref name="family"/>; returns whether anything changed.</summary>
    public bool Set(IReadOnlyDictionary<Prefix, RouteAttributes> routes, AddressFamily family)
    {
        ArgumentNullException.ThrowIfNull(routes);
        lock (_gate)
        {
            var changed = false;
            List<Prefix>? gone = null;
            foreach (var p in _desired.Keys)
            {
                if (!routes.ContainsKey(p))
                {
                    (gone ??= []).Add(p);
                }
            }

            foreach (var p in gone ?? [])
            {
                _desired.Remove(p);
                _dirty.Add(p);
                changed = true;
            }

            foreach (var (p, a) in routes)
            {
                if (p.Family == family && (!_desired.TryGetValue(p, out var old) || !old.Equals(a)))
                {
                    _desired[p] = a;
                    _dirty.Add(p);
                    changed = true;
                }
            }

            return changed;
        }
    }

    /// <summary>A new connection: nothing was sent on it yet.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _sent.Clear();
            _dirty.Clear();
            _dirty.UnionWith(_desired.Keys);
        }
    }

    /// <summary>The UPDATEs that bring the peer from what was sent to what is desired (and records them as sent).</summary>
    public List<UpdateMessage> Flush(AddressFamily family, uint localAs, bool internalPeer, IPAddress nextHop, CodecContext ctx, IPAddress? linkLocal = null)
    {
        var withdraw = new List<Prefix>();
        var announce = new Dictionary<RouteAttributes, List<Prefix>>();
        lock (_gate)
        {
            if (_dirty.Count == 0)
            {
                return [];
            }

            foreach (var p in _dirty)
            {
                if (_desired.TryGetValue(p, out var a))
                {
                    if (!_sent.TryGetValue(p, out var was) || !was.Equals(a))
                    {
                        if (!announce.TryGetValue(a, out var list))
                        {
                            announce[a] = list = [];
                        }

                        list.Add(p);
                        _sent[p] = a;
                    }
                }
                else if (_sent.Remove(p))
                {
                    withdraw.Add(p);
                }
            }

            _dirty.Clear();
        }

        var updates = new List<UpdateMessage>();
        var v4 = family == AddressFamily.InterNetwork;

        // Withdrawals: IPv4 in the withdrawn routes field, IPv6 in MP_UNREACH_NLRI (RFC 4760 §4).
        foreach (var chunk in Chunks(withdraw, Room - (v4 ? 0 : 3 + 4)))
        {
            updates.Add(v4 ? new UpdateMessage(chunk, [], []) : new UpdateMessage([], [new MpUnreachAttribute(AfiSafi.IPv6Unicast, chunk)], []));
        }

        foreach (var (attributes, prefixes) in announce)
        {
            var common = Attributes(attributes, localAs, internalPeer, v4 ? nextHop : null);
            IPAddress[] hops = linkLocal is null ? [nextHop] : [nextHop, linkLocal];
            var overhead = common.Sum(a => a.EncodedLength(ctx)) + (v4 ? 0 : 4 + 5 + (16 * hops.Length));
            foreach (var chunk in Chunks(prefixes, Room - overhead))
            {
                updates.Add(v4
                    ? new UpdateMessage([], common, chunk)
                    : new UpdateMessage([], [.. common, new MpReachAttribute(AfiSafi.IPv6Unicast, hops, chunk)], []));
            }
        }

        return updates;
    }

    /// <summary>ORIGIN IGP, our AS for eBGP (empty path for iBGP), NEXT_HOP self, LOCAL_PREF for iBGP, communities.</summary>
    private static List<PathAttribute> Attributes(RouteAttributes route, uint localAs, bool internalPeer, IPAddress? nextHop)
    {
        var list = new List<PathAttribute>
        {
            new OriginAttribute(OriginAttribute.Igp),
            internalPeer ? AsPathAttribute.Empty : AsPathAttribute.Of(localAs),
        };
        if (nextHop is not null)
        {
            list.Add(new NextHopAttribute(nextHop));
        }

        if (internalPeer)
        {
            // RFC 4271 §5.1.5: LOCAL_PREF goes to internal peers only.
            list.Add(new LocalPrefAttribute(route.LocalPreference ?? 100));
        }

        if (route.Communities.Count > 0)
        {
            list.Add(new CommunitiesAttribute(route.Communities));
        }

        if (route.LargeCommunities.Count > 0)
        {
            list.Add(new LargeCommunitiesAttribute(route.LargeCommunities));
        }

        return list;
    }

    private static IEnumerable<List<Prefix>> Chunks(List<Prefix> prefixes, int room)
    {
        var chunk = new List<Prefix>();
        var used = 0;
        foreach (var p in prefixes)
        {
            if (used + p.EncodedLength > room && chunk.Count > 0)
            {
                yield return chunk;
                chunk = [];
                used = 0;
            }

            chunk.Add(p);
            used += p.EncodedLength;
        }

        if (chunk.Count > 0)
        {
            yield return chunk;
        }
    }
}
