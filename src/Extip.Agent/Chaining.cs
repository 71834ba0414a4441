using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Extip.Kubernetes.Models;

namespace Extip.Agent;

/// <summary>
/// An address this node holds while another node on the same link still holds it too (the node
/// handing it over): TCP segments for it that belong to no connection this node saw start go to
/// that node, unchanged, so the connections it still serves survive the network's switch to this
/// node (the router's next hop, the segment's neighbour entry).
/// </summary>
public sealed record ChainedAddress(IPAddress Address, IPAddress Via, string Device)
{
    public override string ToString() => $"{Address} via {Via} dev {Device}";
}

/// <summary>
/// What the node's packet filter does for extip's moves: <see cref="Chained"/> on the new holder,
/// and on the old holder <see cref="Silenced"/>: L2 addresses it keeps for its connections after
/// the new holder took them, for which it no longer answers ARP, so the segment stays with the
/// new holder.
/// </summary>
public sealed record ConnectionChains(IReadOnlyList<ChainedAddress> Chained, IReadOnlyList<IPAddress> Silenced)
{
    public static readonly ConnectionChains None = new([], []);

    public bool IsEmpty => Chained.Count == 0 && Silenced.Count == 0;
}

/// <summary>
/// Connection-aware moves (daisy chaining): which addresses to chain to which node, and the
/// nftables rules that do it. The rules live in tables of their own (<see cref="Table"/>, in the
/// ip, ip6 and arp families), replaced whole in one transaction.
/// <para>
/// A segment belongs to no connection this node knows when it is not a SYN and conntrack sees it
/// as new: the kernel's conntrack picks a TCP connection up mid-stream as new
/// (<c>nf_conntrack_tcp_loose</c>, on by default), and a connection this node accepted itself is
/// established from its SYN on. The segment is copied to the other node's address on the link
/// (<c>dup</c>: the same packet, sent to that node's MAC) and dropped here.
/// </para>
/// </summary>
public static class Chaining
{
    public const string Table = "extip_chain";

    /// <summary>
    /// The addresses of <paramref name="held"/> (single-owner addresses this node holds now) that
    /// exactly one other node's IPNode status also says it holds, each with that node's address on
    /// one of this node's links (an up, non-loopback interface whose subnet holds it).
    /// </summary>
    public static IReadOnlyList<ChainedAddress> Plan(IEnumerable<DesiredAddress> held, IEnumerable<IpNode> others, IReadOnlyList<InterfaceState> interfaces)
    {
        ArgumentNullException.ThrowIfNull(held);
        ArgumentNullException.ThrowIfNull(others);
        ArgumentNullException.ThrowIfNull(interfaces);
        var nodes = others.Where(n => n.Status is not null).ToList();
        var links = interfaces.Where(i => i.Up && i.Name != "lo")
            .SelectMany(i => i.Addresses.Select(a => (i.Name, Net: ParseNet(a))))
            .Where(l => l.Net is not null)
            .Select(l => (l.Name, Net: l.Net!.Value))
            .ToList();
        var chained = new List<ChainedAddress>();
        foreach (var want in held)
        {
            var holders = nodes.Where(n => n.Status!.Addresses.Any(a => a.State == NodeAddressStatus.HeldState && IPAddress.TryParse(a.Address, out var ip) && ip.Equals(want.Address))).ToList();
            if (holders.Count != 1)
            {
                continue;
            }

            var theirs = holders[0].Status!;
            var extip = theirs.Addresses.Select(a => IPAddress.TryParse(a.Address, out var ip) ? ip : null).OfType<IPAddress>().ToHashSet();
            var via = theirs.Interfaces.Where(i => i.Up).SelectMany(i => i.Addresses)
                .Select(ParseNet).OfType<(IPAddress Address, int Prefix)>()
                .Where(a => a.Address.AddressFamily == want.Address.AddressFamily && !extip.Contains(a.Address))
                .SelectMany(a => links.Where(l => l.Net.Address.AddressFamily == a.Address.AddressFamily && !l.Net.Address.Equals(a.Address) && InSubnet(a.Address, l.Net)).Select(l => (a.Address, l.Name)))
                .FirstOrDefault();
            if (via.Address is not null)
            {
                chained.Add(new ChainedAddress(want.Address, via.Address, via.Name));
            }
        }

        return chained;
    }

    /// <summary>
    /// The nft script that replaces extip's tables with these rules (and only removes them when
    /// there are none): one transaction, so no packet sees half of it.
    /// </summary>
    public static string Script(ConnectionChains chains)
    {
        ArgumentNullException.ThrowIfNull(chains);
        var s = new StringBuilder();
        foreach (var family in new[] { "ip", "ip6", "arp" })
        {
            // Declaring a table first makes the delete succeed whether it existed or not.
            s.Append(CultureInfo.InvariantCulture, $"table {family} {Table} {{}}\ndelete table {family} {Table}\n");
        }

        foreach (var (family, proto, match) in new[] { ("ip", AddressFamily.InterNetwork, "ip daddr"), ("ip6", AddressFamily.InterNetworkV6, "ip6 daddr") })
        {
            var rules = chains.Chained.Where(c => c.Address.AddressFamily == proto).ToList();
            if (rules.Count == 0)
            {
                continue;
            }

            s.Append(CultureInfo.InvariantCulture, $"table {family} {Table} {{\n  chain prerouting {{\n    type filter hook prerouting priority -150; policy accept;\n");
            foreach (var c in rules)
            {
                s.Append(CultureInfo.InvariantCulture, $"    {match} {c.Address} tcp flags & syn == 0 ct state new counter dup to {c.Via} device \"{c.Device}\" drop\n");
            }

            s.Append("  }\n}\n");
        }

        var silenced = chains.Silenced.Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToList();
        if (silenced.Count > 0)
        {
            s.Append(CultureInfo.InvariantCulture, $"table arp {Table} {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n");
            foreach (var a in silenced)
            {
                s.Append(CultureInfo.InvariantCulture, $"    arp operation request arp daddr ip {a} counter drop\n");
            }

            s.Append("  }\n}\n");
        }

        return s.ToString();
    }

    /// <summary>The nft script that removes extip's tables (start, stop).</summary>
    public static string Clear() => Script(ConnectionChains.None);

    private static (IPAddress Address, int Prefix)? ParseNet(string cidr)
    {
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && IPAddress.TryParse(cidr.AsSpan(0, slash), out var ip) && int.TryParse(cidr.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var len)
            ? (ip, len)
            : null;
    }

    private static bool InSubnet(IPAddress address, (IPAddress Address, int Prefix) net)
    {
        var a = Extip.Core.Addresses.Address.FromIPAddress(address);
        var n = Extip.Core.Addresses.Address.FromIPAddress(net.Address);
        if (a.Family != n.Family || net.Prefix < 0 || net.Prefix > a.Bits)
        {
            return false;
        }

        var mask = Extip.Core.Addresses.Cidr.Mask(a.Family, net.Prefix);
        return (a.Value & mask) == (n.Value & mask);
    }
}
