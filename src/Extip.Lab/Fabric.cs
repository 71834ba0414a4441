using System.Globalization;
using System.Net;

namespace Extip.Lab;

/// <summary>
/// The lab's network: a top-of-rack router namespace with a bridge that every node namespace
/// joins by a veth pair (one shared segment, as a rack's), and a client namespace behind the
/// router when asked. Only documentation ranges: the segment is 198.51.100.0/25 and
/// 2001:db8:100::/64, the client's link 198.51.100.128/30 and 2001:db8:200::/64.
/// </summary>
public sealed class Fabric
{
    public static readonly IPAddress RouterV4 = IPAddress.Parse("198.51.100.1");
    public static readonly IPAddress RouterV6 = IPAddress.Parse("2001:db8:100::1");
    public static readonly IPAddress ClientV4 = IPAddress.Parse("198.51.100.130");
    public static readonly IPAddress ClientV6 = IPAddress.Parse("2001:db8:200::2");

    private readonly Dictionary<string, string> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _numbers = new(StringComparer.Ordinal);

    private Fabric(Site site, string router)
    {
        Site = site;
        Router = router;
    }

    public Site Site { get; }

    /// <summary>The router's namespace.</summary>
    public string Router { get; }

    /// <summary>The client's namespace (a host outside the rack, behind the router), when there is one.</summary>
    public string? Client { get; private set; }

    /// <summary>Node namespaces by node name.</summary>
    public IReadOnlyDictionary<string, string> Nodes => _nodes;

    /// <summary>A router namespace with the bridge, forwarding on; a client behind it when asked.</summary>
    public static Fabric Create(Site site, bool client = false)
    {
        ArgumentNullException.ThrowIfNull(site);
        var router = site.AddNamespace("r");
        var fabric = new Fabric(site, router);
        site.Sysctl(router, "net.ipv4.ip_forward", "1");
        site.Sysctl(router, "net.ipv6.conf.all.forwarding", "1");
        Shell.Run("ip", "-n", router, "link", "add", "br0", "type", "bridge");
        Shell.Run("ip", "-n", router, "link", "set", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0");
        site.Up(router, "br0");
        site.Address(router, "br0", $"{RouterV4}/25");
        site.Address(router, "br0", $"{RouterV6}/64");
        if (client)
        {
            var c = site.AddNamespace("client");
            site.Veth(router, "client0", c, "eth0");
            site.Address(router, "client0", "198.51.100.129/30");
            site.Address(router, "client0", "2001:db8:200::1/64");
            site.Address(c, "eth0", $"{ClientV4}/30");
            site.Address(c, "eth0", $"{ClientV6}/64");
            Shell.Run("ip", "-n", c, "route", "add", "default", "via", "198.51.100.129");
            Shell.Run("ip", "-n", c, "-6", "route", "add", "default", "via", "2001:db8:200::1");

            // ECMP by flow (addresses and ports), so that the client's connections spread over the nodes.
            site.Sysctl(router, "net.ipv4.fib_multipath_hash_policy", "1");
            site.Sysctl(router, "net.ipv6.fib_multipath_hash_policy", "1");
            fabric.Client = c;
        }

        return fabric;
    }

    /// <summary>A node on the segment: eth0 with .(10+n) and ::(10+n), default routes via the router.</summary>
    public string AddNode(string name)
    {
        var n = _nodes.Count + 1;
        var ns = Site.AddNamespace(name);
        var port = "p" + n.ToString(CultureInfo.InvariantCulture);
        Site.Veth(Router, port, ns, "eth0");
        Shell.Run("ip", "-n", Router, "link", "set", port, "master", "br0");
        Site.Address(ns, "eth0", $"{NodeV4(n)}/25");
        Site.Address(ns, "eth0", $"{NodeV6(n)}/64");
        Shell.Run("ip", "-n", ns, "route", "add", "default", "via", RouterV4.ToString());
        Shell.Run("ip", "-n", ns, "-6", "route", "add", "default", "via", RouterV6.ToString());
        _nodes[name] = ns;
        _numbers[name] = n;
        return ns;
    }

    /// <summary>
    /// The node's cable pulled (false) or plugged back (true): the router's port to it goes down
    /// or up, so the node's eth0 loses or regains its carrier; the node's other ways out (none in
    /// the lab but loopback, and the agent's own, which run beside it) are untouched.
    /// </summary>
    public void SetUplink(string node, bool up) =>
        Shell.Run("ip", "-n", Router, "link", "set", "p" + _numbers[node].ToString(CultureInfo.InvariantCulture), up ? "up" : "down");

    /// <summary>The next hops of the router's kernel route to a host address (several when ECMP; none when there is no route).</summary>
    public IReadOnlyList<IPAddress> RouterNextHops(IPAddress host) => NextHops(Router, host);

    /// <summary>The next hops of a host route in a router namespace's kernel (several when ECMP; none when there is no route).</summary>
    public static IReadOnlyList<IPAddress> NextHops(string router, IPAddress host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var bits = host.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        using var nl = Netlink.RtNetlink.Open(router);
        return nl.Routes(host.AddressFamily)
            .Where(r => r.Destination.Equals(host) && r.PrefixLength == bits && r.Table == Netlink.Wire.Route.TableMain)
            .SelectMany(r => r.NextHops).Select(h => h.Gateway).OfType<IPAddress>().Order(Comparer<IPAddress>.Create((a, b) => string.CompareOrdinal(a.ToString(), b.ToString()))).ToList();
    }

    /// <summary>The MAC a namespace's neighbour entry gives an address, with the entry's state (null: no entry, or one that failed).</summary>
    public static (string Mac, string State)? Neighbour(string ns, IPAddress host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var words = Shell.Run("ip", "-n", ns, "neigh", "show", host.ToString()).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var at = Array.IndexOf(words, "lladdr");
        return at >= 0 && at + 1 < words.Length ? (words[at + 1], words[^1]) : null;
    }

    /// <summary>An interface's MAC in a namespace (null when it has none).</summary>
    public static string? Mac(string ns, string iface)
    {
        var words = Shell.Run("ip", "-n", ns, "link", "show", iface).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var at = Array.IndexOf(words, "link/ether");
        return at >= 0 && at + 1 < words.Length ? words[at + 1] : null;
    }

    /// <summary>The node whose address is this next hop.</summary>
    public string? NodeOf(IPAddress nextHop) => _numbers.Keys.FirstOrDefault(n => V4(n).Equals(nextHop) || V6(n).Equals(nextHop));

    public IPAddress V4(string node) => NodeV4(_numbers[node]);

    /// <summary>The node's address of the family.</summary>
    public IPAddress V(System.Net.Sockets.AddressFamily family, string node) => family == System.Net.Sockets.AddressFamily.InterNetwork ? V4(node) : V6(node);

    public IPAddress V6(string node) => NodeV6(_numbers[node]);

    private static IPAddress NodeV4(int n) => IPAddress.Parse($"198.51.100.{10 + n}");

    private static IPAddress NodeV6(int n) => IPAddress.Parse($"2001:db8:100::{10 + n:x}");
}
