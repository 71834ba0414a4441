using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;

namespace Extip.Core.Tests.Allocation;

public class FreeRangesTests
{
    [Fact]
    public void TakeAndRelease_SplitAndJoinIntervals()
    {
        var f = new FreeRanges();
        f.AddRange(10, 20);
        Assert.True(f.TryTake(15));
        Assert.Equal(2, f.IntervalCount);
        Assert.False(f.Contains(15));
        Assert.False(f.TryTake(15));
        f.Release(15);
        Assert.Equal(1, f.IntervalCount);
        Assert.True(f.Contains(15));
        f.Release(15);
        Assert.Equal(1, f.IntervalCount);
    }

    [Fact]
    public void PeekLowest_ReturnsTheSmallestFreeValue()
    {
        var f = new FreeRanges();
        f.AddRange(100, 200);
        f.AddRange(5, 6);
        Assert.True(f.TryPeekLowest(false, out var v));
        Assert.Equal((UInt128)5, v);
        f.TryTake(5);
        f.TryTake(6);
        Assert.True(f.TryPeekLowest(false, out v));
        Assert.Equal((UInt128)100, v);
    }

    [Fact]
    public void ReleaseAtEdges_ExtendsNeighbours()
    {
        var f = new FreeRanges();
        f.AddRange(10, 12);
        foreach (var v in new UInt128[] { 10, 11, 12 })
        {
            Assert.True(f.TryTake(v));
        }

        Assert.Equal(0, f.IntervalCount);
        f.Release(12);
        f.Release(10);
        Assert.Equal(2, f.IntervalCount);
        f.Release(11);
        Assert.Equal(1, f.IntervalCount);
        Assert.True(f.Contains(10) && f.Contains(11) && f.Contains(12));
    }

    [Fact]
    public void AvoidBuggy_LargePoolSequentialAllocation_NeverHandsOutDotZeroOrDot255()
    {
        var (a, _) = Fixtures.New(null, new IpPoolSpec { Name = "big", Addresses = ["10.0.0.0/8"], AvoidBuggyIPs = true });
        for (var i = 0; i < 70_000; i++)
        {
            var r = a.Assign(Fixtures.Svc($"s{i}"));
            Assert.False(r.LoadBalancer[0].Address.IsBuggyV4);
        }

        // Each /24 gives 254 addresses: 70,000 = 275 × 254 + 150, so the last is host .150 of the 276th /24.
        Assert.Equal(Address.Parse("10.1.19.150"), a.LoadBalancerOf(new("default", "s69999"))[0].Address);
    }

    [Fact]
    public void AvoidBuggy_SkippedAddresses_AreNotLeftBehindAsIntervals()
    {
        var f = new FreeRanges();
        f.AddRange(Address.Parse("10.0.0.0").Value, Address.Parse("10.255.255.255").Value);
        for (var i = 0; i < 70_000; i++)
        {
            Assert.True(f.TryPeekLowest(avoidBuggy: true, out var v));
            Assert.True(f.TryTake(v));
        }

        Assert.Equal(1, f.IntervalCount);
    }
}
