using System.Net;
using Extip.Kubernetes.Models;
using k8s.Models;

namespace Extip.Agent.Tests;

/// <summary>Which addresses a new holder chains to which node, and the nft rules for it (the kernel's side is in the lab's move tests).</summary>
public sealed class ChainingTests
{
    private static readonly IReadOnlyList<InterfaceState> Mine =
    [
        new("lo", true, ["127.0.0.1/8"]),
        new("eth0", true, ["198.51.100.12/25", "2001:db8:100::12/64"]),
    ];

    private static DesiredAddress Want(string ip, string iface = "lo") =>
        new(IPAddress.Parse(ip), 32, iface, Extip.Core.Pools.AnnounceMode.BGP, "c-" + ip);

    private static IpNode Node(string name, IReadOnlyList<string> held, bool up = true, params string[] addresses) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Status = new IpNodeStatusModel
        {
            Addresses = [.. held.Select(a => new NodeAddressStatus { Address = a, PrefixLength = 32, Interface = "lo", State = NodeAddressStatus.HeldState })],
            Interfaces = [new NodeInterface { Name = "lo", Up = true, Addresses = ["127.0.0.1/8", .. held.Select(a => a + "/32")] }, new NodeInterface { Name = "eth0", Up = up, Addresses = [.. addresses] }],
        },
    };

    [Fact]
    public void AddressStillHeldByOneOtherNode_ChainedToItsAddressOnOurLink()
    {
        var plan = Chaining.Plan(
            [Want("203.0.113.10"), Want("203.0.113.11")],
            [Node("a", ["203.0.113.10"], true, "198.51.100.11/25", "2001:db8:100::11/64"), Node("c", ["203.0.113.99"], true, "198.51.100.13/25")],
            Mine);
        var chained = Assert.Single(plan);
        Assert.Equal(new ChainedAddress(IPAddress.Parse("203.0.113.10"), IPAddress.Parse("198.51.100.11"), "eth0"), chained);
    }

    [Fact]
    public void IPv6_ChainedToTheOtherNodesIPv6Address()
    {
        var plan = Chaining.Plan([Want("2001:db8:300::10")], [Node("a", ["2001:db8:300::10"], true, "198.51.100.11/25", "2001:db8:100::11/64")], Mine);
        Assert.Equal(IPAddress.Parse("2001:db8:100::11"), Assert.Single(plan).Via);
    }

    [Fact]
    public void NothingChained_WhenTwoOthersHoldIt_OrTheirLinkIsDown_OrNotOnOurSubnet()
    {
        Assert.Empty(Chaining.Plan([Want("203.0.113.10")], [Node("a", ["203.0.113.10"], true, "198.51.100.11/25"), Node("b", ["203.0.113.10"], true, "198.51.100.13/25")], Mine));
        Assert.Empty(Chaining.Plan([Want("203.0.113.10")], [Node("a", ["203.0.113.10"], false, "198.51.100.11/25")], Mine));
        Assert.Empty(Chaining.Plan([Want("203.0.113.10")], [Node("a", ["203.0.113.10"], true, "192.0.2.11/24")], Mine));
    }

    [Fact]
    public void TheirExtipAddressesOnTheLink_NeverTheTarget()
    {
        // In L2 the moving address is on the old holder's eth0 too, inside our subnet.
        var plan = Chaining.Plan([Want("198.51.100.50", "eth0")], [Node("a", ["198.51.100.50"], true, "198.51.100.50/32", "198.51.100.11/25")], Mine);
        Assert.Equal(IPAddress.Parse("198.51.100.11"), Assert.Single(plan).Via);
    }

    [Fact]
    public void Script_ReplacesTheTablesWhole_ChainsUnknownSegments_SilencesArp()
    {
        var script = Chaining.Script(new ConnectionChains(
            [new(IPAddress.Parse("203.0.113.10"), IPAddress.Parse("198.51.100.11"), "eth0"), new(IPAddress.Parse("2001:db8:300::10"), IPAddress.Parse("2001:db8:100::11"), "eth0")],
            [IPAddress.Parse("198.51.100.50")]));
        Assert.Contains("delete table ip extip_chain\n", script, StringComparison.Ordinal);
        Assert.Contains("ip daddr 203.0.113.10 tcp flags & syn == 0 ct state new counter dup to 198.51.100.11 device \"eth0\" drop", script, StringComparison.Ordinal);
        Assert.Contains("ip6 daddr 2001:db8:300::10 tcp flags & syn == 0 ct state new counter dup to 2001:db8:100::11 device \"eth0\" drop", script, StringComparison.Ordinal);
        Assert.Contains("arp operation request arp daddr ip 198.51.100.50 counter drop", script, StringComparison.Ordinal);

        var clear = Chaining.Clear();
        Assert.DoesNotContain("hook", clear, StringComparison.Ordinal);
        Assert.Equal(3, clear.Split("delete table").Length - 1);
    }
}
