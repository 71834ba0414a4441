using Extip.Core.Addresses;
using Extip.Core.Pools;
using Extip.Core.Selectors;

namespace Extip.Core.Tests.Pools;

public class PoolSetTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Build_ValidPools_AreAllUsable_InPriorityOrder()
    {
        var set = PoolSet.Build([
            new IpPoolSpec { Name = "default", Addresses = ["192.0.2.0/24"] },
            new IpPoolSpec { Name = "gold", Addresses = ["198.51.100.0/24"], ServiceAllocation = new() { Priority = 1 } },
            new IpPoolSpec { Name = "silver", Addresses = ["203.0.113.0/24"], ServiceAllocation = new() { Priority = 5 } },
        ]);
        Assert.Empty(set.Problems);
        Assert.Equal(["gold", "silver", "default"], set.Pools.Select(p => p.Name));
    }

    [Fact]
    public void Build_OverlappingPools_NamesBothAndKeepsTheOlder()
    {
        var set = PoolSet.Build([
            new IpPoolSpec { Name = "young", Addresses = ["192.0.2.128/25"], CreatedAt = T0.AddHours(1) },
            new IpPoolSpec { Name = "old", Addresses = ["192.0.2.0/24"], CreatedAt = T0 },
        ]);
        Assert.Equal(["old"], set.Pools.Select(p => p.Name));
        var young = Assert.Single(set.Problems, p => p.Pool == "young");
        Assert.Equal(PoolCondition.Overlap, young.Condition);
        Assert.True(young.Disabled);
        Assert.Contains("\"old\"", young.Message, StringComparison.Ordinal);
        var old = Assert.Single(set.Problems, p => p.Pool == "old");
        Assert.False(old.Disabled);
        Assert.Contains("\"young\"", old.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new string[0], null, "spec.addresses: must list at least one")]
    [InlineData(new[] { "192.0.2.20-192.0.2.10" }, null, "spec.addresses[0]: \"192.0.2.20-192.0.2.10\": range is reversed")]
    [InlineData(new[] { "192.0.2.0/24", "bogus" }, null, "spec.addresses[1]: \"bogus\"")]
    [InlineData(new[] { "192.0.2.0/24" }, 33, "spec.prefixLength: 33 is out of range 1-32 for IPv4")]
    [InlineData(new[] { "192.0.2.0/24" }, 0, "spec.prefixLength: 0 is out of range 1-32 for IPv4")]
    [InlineData(new[] { "2001:db8::/64" }, 129, "spec.prefixLength: 129 is out of range 1-128 for IPv6")]
    public void Build_InvalidPool_IsReportedWithFieldAndValue_AndOthersStayUsable(string[] addresses, int? prefix, string message)
    {
        var set = PoolSet.Build([
            new IpPoolSpec { Name = "bad", Addresses = addresses, PrefixLength = prefix },
            new IpPoolSpec { Name = "good", Addresses = ["203.0.113.0/24"] },
        ]);
        Assert.Equal(["good"], set.Pools.Select(p => p.Name));
        var problem = Assert.Single(set.Problems);
        Assert.Equal("bad", problem.Pool);
        Assert.Equal(PoolCondition.Invalid, problem.Condition);
        Assert.Contains(message, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_BadAnnounceFields_AreEachNamed()
    {
        var set = PoolSet.Build([
            new IpPoolSpec
            {
                Name = "p",
                Addresses = ["192.0.2.0/24"],
                Announce = new()
                {
                    NodesPerAddress = 0,
                    Interface = "eth0/1",
                    Communities = ["65000:100", "70000:1", "a:b"],
                    NodeSelector = new LabelSelector { MatchExpressions = [new("zone", SelectorOperator.In, [])] },
                },
            },
        ]);
        var m = Assert.Single(set.Problems).Message;
        Assert.Contains("spec.announce.nodesPerAddress: 0", m, StringComparison.Ordinal);
        Assert.Contains("spec.announce.interface: \"eth0/1\"", m, StringComparison.Ordinal);
        Assert.Contains("spec.announce.communities[1]: \"70000:1\"", m, StringComparison.Ordinal);
        Assert.Contains("spec.announce.communities[2]: \"a:b\"", m, StringComparison.Ordinal);
        Assert.DoesNotContain("communities[0]", m, StringComparison.Ordinal);
        Assert.Contains("spec.announce.nodeSelector.matchExpressions[0].values", m, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_DuplicateName_IsInvalid()
    {
        var set = PoolSet.Build([
            new IpPoolSpec { Name = "p", Addresses = ["192.0.2.0/24"], CreatedAt = T0 },
            new IpPoolSpec { Name = "p", Addresses = ["198.51.100.0/24"], CreatedAt = T0.AddHours(1) },
        ]);
        Assert.Single(set.Pools);
        Assert.Contains("duplicate", Assert.Single(set.Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pool_RangesWithinOnePool_AreMerged_AndCapacityCounted()
    {
        var set = PoolSet.Build([
            new IpPoolSpec { Name = "p", Addresses = ["192.0.2.0/25", "192.0.2.128/25", "192.0.2.100", "2001:db8::/120"] },
        ]);
        var p = Assert.Single(set.Pools);
        Assert.Equal(2, p.Ranges.Count);
        Assert.Equal((UInt128)256, p.CapacityV4);
        Assert.Equal((UInt128)256, p.CapacityV6);
        Assert.True(p.Contains(Address.Parse("192.0.2.200")));
        Assert.False(p.Contains(Address.Parse("192.0.3.0")));
    }

    [Fact]
    public void Pool_PrefixLength_DefaultsAndV6OnlyPools()
    {
        var set = PoolSet.Build([
            new IpPoolSpec { Name = "v4", Addresses = ["192.0.2.0/24"], PrefixLength = 24 },
            new IpPoolSpec { Name = "v6", Addresses = ["2001:db8::/64"], PrefixLength = 64 },
            new IpPoolSpec { Name = "dual", Addresses = ["198.51.100.0/24", "2001:db8:1::/64"] },
        ]);
        Assert.Empty(set.Problems);
        Assert.Equal(24, set.ByName["v4"].PrefixLength(IpFamily.IPv4));
        Assert.Equal(64, set.ByName["v6"].PrefixLength(IpFamily.IPv6));
        Assert.Equal(32, set.ByName["dual"].PrefixLength(IpFamily.IPv4));
        Assert.Equal(128, set.ByName["dual"].PrefixLength(IpFamily.IPv6));
    }

    [Theory]
    [InlineData("65000:100", false)]
    [InlineData("4200000000:1:2", true)]
    public void Community_ParsesStandardAndLarge(string text, bool large)
    {
        Assert.True(Community.TryParse(text, out var c, out _));
        Assert.Equal(large, c.IsLarge);
        Assert.Equal(text, c.ToString());
    }
}
