using CsCheck;
using Extip.Core.Allocation;
using static Extip.Core.Tests.Allocation.Fixtures;

namespace Extip.Core.Tests.Allocation;

/// <summary>Issue 11: pool use counts held and kept-for-deleted addresses apart, so a reservation never reads as a leak.</summary>
public class PoolUsageTests
{
    [Fact]
    public void Release_WithStickyGrace_CountsTheAddressAsKept_NotInUse_UntilItExpires()
    {
        var (a, time) = New(new AllocatorOptions { StickyGrace = TimeSpan.FromMinutes(10) }, Pool("p", "192.0.2.0/30", "2001:db8::/126"));
        a.Assign(Svc("keep"));
        a.Assign(Svc("gone") with { Families = [Core.Addresses.IpFamily.IPv6] });
        a.Release(new ServiceKey("default", "gone"));
        var u = Assert.Single(a.Usage());
        Assert.Equal((1L, 0L, 0L, 1L), (u.InUseV4, u.ReservedV4, u.InUseV6, u.ReservedV6));
        time.Advance(TimeSpan.FromMinutes(11));
        u = Assert.Single(a.Usage());
        Assert.Equal((1L, 0L, 0L, 0L), (u.InUseV4, u.ReservedV4, u.InUseV6, u.ReservedV6));
    }

    [Fact]
    public void KeptAddresses_CountTowardsExhaustion()
    {
        var (a, _) = New(new AllocatorOptions { StickyGrace = TimeSpan.FromMinutes(10) }, Pool("p", "192.0.2.1-192.0.2.2"));
        a.Assign(Svc("x"));
        a.Assign(Svc("y"));
        a.Release(new ServiceKey("default", "y"));
        var u = a.UsageOf("p")!;
        Assert.Equal((1L, 1L, true), (u.InUseV4, u.ReservedV4, u.ExhaustedV4));
    }
}
