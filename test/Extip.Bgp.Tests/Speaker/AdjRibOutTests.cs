using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;

namespace Extip.Bgp.Tests.Speaker;

public sealed class AdjRibOutTests
{
    private static readonly IPAddress Self = IPAddress.Parse("198.51.100.11");
    private static readonly IPAddress Self6 = IPAddress.Parse("2001:db8:100::b");

    private static Dictionary<Prefix, RouteAttributes> Hosts(int count, RouteAttributes? a = null) =>
        Enumerable.Range(0, count).ToDictionary(i => new Prefix(new IPAddress([198, 18, (byte)(i >> 8), (byte)i]), 32), _ => a ?? RouteAttributes.None);

    private static List<UpdateMessage> Flush(AdjRibOut rib, AddressFamily family = AddressFamily.InterNetwork, bool ibgp = false) =>
        rib.Flush(family, 64512, ibgp, family == AddressFamily.InterNetwork ? Self : Self6, CodecContext.Modern);

    [Fact]
    public void ManyPrefixesWithOneAttributeSet_FillFullUpdates()
    {
        var rib = new AdjRibOut();
        rib.Set(Hosts(10_000), AddressFamily.InterNetwork);
        var updates = Flush(rib);
        var sizes = updates.Select(u => BgpCodec.Encode(u, CodecContext.Modern).Length).ToList();
        Assert.Equal(10_000, updates.Sum(u => u.Nlri.Count));
        Assert.All(sizes, s => Assert.InRange(s, 1, BgpCodec.MaxMessageLength));

        // All but the last are full: no room left for another /32 (5 bytes).
        Assert.All(sizes.SkipLast(1), s => Assert.True(s > BgpCodec.MaxMessageLength - 5, $"{s} bytes"));
        Assert.Equal(13, updates.Count);
    }

    [Fact]
    public void SecondFlush_SendsOnlyWhatChanged()
    {
        var rib = new AdjRibOut();
        var routes = Hosts(100);
        rib.Set(routes, AddressFamily.InterNetwork);
        Flush(rib);
        Assert.Empty(Flush(rib));

        var tagged = new RouteAttributes([(64512u << 16) | 7], [], null);
        var changed = new Dictionary<Prefix, RouteAttributes>(routes);
        changed.Remove(routes.Keys.First());
        changed[routes.Keys.Last()] = tagged;
        changed[Prefix.Parse("192.0.2.1/32")] = RouteAttributes.None;
        Assert.True(rib.Set(changed, AddressFamily.InterNetwork));
        var updates = Flush(rib);
        Assert.Equal([routes.Keys.First()], updates.SelectMany(u => u.Withdrawn));
        var announced = updates.SelectMany(u => u.Nlri.Select(p => (p, u.Get<CommunitiesAttribute>() is not null))).ToList();
        Assert.Equal(2, announced.Count);
        Assert.Contains((routes.Keys.Last(), true), announced);
        Assert.Contains((Prefix.Parse("192.0.2.1/32"), false), announced);
        Assert.Equal(100, rib.SentCount);
        Assert.False(rib.Set(changed, AddressFamily.InterNetwork));
    }

    [Fact]
    public void OtherFamily_IsNotThisSessions()
    {
        var rib = new AdjRibOut();
        rib.Set(new Dictionary<Prefix, RouteAttributes> { [Prefix.Parse("192.0.2.1/32")] = RouteAttributes.None, [Prefix.Parse("2001:db8::1/128")] = RouteAttributes.None }, AddressFamily.InterNetworkV6);
        var updates = Flush(rib, AddressFamily.InterNetworkV6);
        var mp = Assert.Single(updates).Get<MpReachAttribute>()!;
        Assert.Equal([Prefix.Parse("2001:db8::1/128")], mp.Nlri);
        Assert.Equal([Self6], mp.NextHops);
        Assert.Equal(1, rib.DesiredCount);
    }

    [Fact]
    public void Ibgp_GetsLocalPreferenceAndAnEmptyPath_Ebgp_OurAs()
    {
        var rib = new AdjRibOut();
        rib.Set(Hosts(1, new RouteAttributes([], [], 250)), AddressFamily.InterNetwork);
        var ibgp = Assert.Single(Flush(rib, ibgp: true));
        Assert.Equal(250u, ibgp.Get<LocalPrefAttribute>()!.Value);
        Assert.Empty(ibgp.Get<AsPathAttribute>()!.Segments);
        rib.Reset();
        var ebgp = Assert.Single(Flush(rib));
        Assert.Null(ebgp.Get<LocalPrefAttribute>());
        Assert.Equal([64512u], ebgp.Get<AsPathAttribute>()!.Segments.Single().Asns);
        Assert.Equal(Self, ebgp.Get<NextHopAttribute>()!.Address);
    }

    [Fact]
    public void Reset_ResendsEverything_AsForANewConnection()
    {
        var rib = new AdjRibOut();
        rib.Set(Hosts(50), AddressFamily.InterNetwork);
        Flush(rib);
        rib.Reset();
        Assert.Equal(0, rib.SentCount);
        Assert.Equal(50, Flush(rib).Sum(u => u.Nlri.Count));
    }
}
