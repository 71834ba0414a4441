using CsCheck;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;
using static Extip.Core.Tests.Allocation.Fixtures;

namespace Extip.Core.Tests.Allocation;

/// <summary>Issue 11: what must not be routed is never handed out, whatever the pool says.</summary>
public class ReservedAllocationTests
{
    [Theory]
    [InlineData("0.0.0.0/8", "spec.addresses: every address is in a range that is never handed out: 0.0.0.0/8 (unspecified)")]
    [InlineData("127.0.0.1", "spec.addresses: every address is in a range that is never handed out: 127.0.0.0/8 (loopback)")]
    [InlineData("224.0.0.0/24", "spec.addresses: every address is in a range that is never handed out: 224.0.0.0/4 (multicast)")]
    [InlineData("::/127", "spec.addresses: every address is in a range that is never handed out: :: (unspecified), ::1 (loopback)")]
    [InlineData("fe80::/64", "spec.addresses: every address is in a range that is never handed out: fe80::/10 (link-local)")]
    [InlineData("ff02::1", "spec.addresses: every address is in a range that is never handed out: ff00::/8 (multicast)")]
    public void Build_PoolOfOnlyReservedAddresses_IsInvalid_NamingThem(string addresses, string message)
    {
        var set = PoolSet.Build([Pool("bad", addresses), Pool("good", "203.0.113.0/24")]);
        Assert.Equal(["good"], set.Pools.Select(p => p.Name));
        var problem = Assert.Single(set.Problems);
        Assert.Equal((PoolCondition.Invalid, true), (problem.Condition, problem.Disabled));
        Assert.Equal(message, problem.Message);
    }

    [Theory]
    [InlineData("0.0.0.0/0", "1.0.0.0", "1.0.0.1")]
    [InlineData("::/0", "::2", "::3")]
    [InlineData("0.0.0.0/31", null, null)]
    public void Assign_FromWholeSpacePool_NeverHandsOutReserved(string addresses, string? first, string? second)
    {
        var family = addresses.Contains(':', StringComparison.Ordinal) ? IpFamily.IPv6 : IpFamily.IPv4;
        var (a, _) = New(null, Pool("all", addresses));
        var r1 = a.Assign(Svc("one") with { Families = [family] });
        var r2 = a.Assign(Svc("two") with { Families = [family] });
        Assert.Equal(first is null ? [] : [first], r1.Lb());
        Assert.Equal(second is null ? [] : [second], r2.Lb());
    }

    [Theory]
    [InlineData("0.0.0.0", "requested address 0.0.0.0 is in 0.0.0.0/8 (unspecified), which is never handed out")]
    [InlineData("127.0.0.1", "requested address 127.0.0.1 is in 127.0.0.0/8 (loopback), which is never handed out")]
    [InlineData("255.255.255.255", "requested address 255.255.255.255 is in 255.255.255.255 (limited broadcast), which is never handed out")]
    [InlineData("::", "requested address :: is in :: (unspecified), which is never handed out")]
    [InlineData("ff02::1", "requested address ff02::1 is in ff00::/8 (multicast), which is never handed out")]
    public void Assign_RequestedReserved_IsRefusedNamingTheBlock(string address, string message)
    {
        var (a, _) = New(null, Pool("all", "0.0.0.0/0", "::/0"));
        var family = address.Contains(':', StringComparison.Ordinal) ? IpFamily.IPv6 : IpFamily.IPv4;
        var r = a.Assign(Svc("s") with { RequestedAddresses = [address], Families = [family] });
        var refusal = Assert.Single(r.Refusals);
        Assert.Equal((RefusalReason.ReservedAddress, message), (refusal.Reason, refusal.Message));
        Assert.Empty(r.LoadBalancer);
    }

    [Theory]
    [InlineData(ExternalIpPolicy.Any, "127.0.0.1", "spec.externalIPs: 127.0.0.1 is in 127.0.0.0/8 (loopback), which is never routed to a Service")]
    [InlineData(ExternalIpPolicy.Pools, "169.254.169.254", "spec.externalIPs: 169.254.169.254 is in 169.254.0.0/16 (link-local), which is never routed to a Service")]
    [InlineData(ExternalIpPolicy.Any, "::1", "spec.externalIPs: ::1 is in ::1 (loopback), which is never routed to a Service")]
    [InlineData(ExternalIpPolicy.Any, "fe80::1", "spec.externalIPs: fe80::1 is in fe80::/10 (link-local), which is never routed to a Service")]
    public void Assign_ExternalReserved_IsRefusedWhateverThePolicy(ExternalIpPolicy policy, string address, string message)
    {
        var (a, _) = New(new AllocatorOptions { ExternalIPs = policy, StickyGrace = TimeSpan.Zero }, Pool("all", "0.0.0.0/0", "::/0") with { AllowExternalIPs = true });
        var r = a.Assign(Svc("s") with { WantsLoadBalancer = false, ExternalIPs = [address] });
        var refusal = Assert.Single(r.Refusals);
        Assert.Equal((RefusalReason.ReservedAddress, message), (refusal.Reason, refusal.Message));
        Assert.Empty(r.ExternalIPs);
    }

    [Fact]
    public void Reload_StatusShowingReservedAddress_IsNotTakenBack()
    {
        var (a, _) = New(null, Pool("all", "0.0.0.0/0"));
        var r = a.Assign(Svc("s") with { CurrentAddresses = ["0.0.0.0"] });
        Assert.Equal(["1.0.0.0"], r.Lb());
    }

    /// <summary>Pools drawn around the edges of every reserved block.</summary>
    private static readonly Gen<IpPoolSpec[]> GenPools =
        Gen.Select(Gen.Int[0, ReservedAddresses.Blocks.Count - 1], Gen.Int[-3, 3], Gen.Int[0, 6], Gen.Bool)
            .Select((block, offset, width, atEnd) =>
            {
                var b = ReservedAddresses.Blocks[block].Range;
                var edge = atEnd ? b.Last.Value : b.First.Value;
                var max = Address.MaxValue(b.Family);
                var first = offset < 0 ? (edge >= (UInt128)(-offset) ? edge - (UInt128)(-offset) : 0) : (max - edge >= (UInt128)offset ? edge + (UInt128)offset : max);
                var last = max - first >= (UInt128)width ? first + (UInt128)width : max;
                return new AddressRange(new Address(b.Family, first), new Address(b.Family, last)).ToString();
            })
            .Array[1, 5]
            .Select(ranges => ranges.Select((r, i) => Pool($"p{i}", r) with { AllowExternalIPs = i % 2 == 0 }).ToArray());

    [Fact]
    public void Property_NoAllocatedOrAcceptedAddressIsEverReserved()
    {
        Gen.Select(GenPools, Gen.Int[0, 40], Gen.Int[0, 8].Array[0, 12]).Sample((pools, services, offsets) =>
        {
            var (a, _) = New(new AllocatorOptions { ExternalIPs = ExternalIpPolicy.Any, StickyGrace = TimeSpan.Zero }, pools);
            for (var i = 0; i < services; i++)
            {
                var family = i % 2 == 0 ? IpFamily.IPv4 : IpFamily.IPv6;
                a.Assign(Svc($"auto{i}") with { Families = [family] });
            }

            // Explicit requests and external IPs at and around every reserved edge.
            for (var i = 0; i < offsets.Length; i++)
            {
                var b = ReservedAddresses.Blocks[i % ReservedAddresses.Blocks.Count].Range;
                var candidate = b.First.Plus((UInt128)offsets[i]) ?? b.First;
                a.Assign(Svc($"req{i}") with { RequestedAddresses = [candidate.ToString()], Families = [candidate.Family] });
                a.Assign(Svc($"ext{i}") with { WantsLoadBalancer = false, ExternalIPs = [candidate.ToString()] });
            }

            foreach (var held in a.Held())
            {
                Assert.True(ReservedAddresses.Of(held.Address) is null, $"{held.Address} handed to {string.Join(",", held.Holders)}");
            }
        }, iter: 300);
    }
}
