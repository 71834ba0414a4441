using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;
using Extip.Core.Selectors;
using static Extip.Core.Tests.Allocation.Fixtures;

namespace Extip.Core.Tests.Allocation;

public class AllocatorTests
{
    [Fact]
    public void Assign_Automatic_TakesLowestFreeAddressOfFirstPool()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.10-192.0.2.12"));
        Assert.Equal(["192.0.2.10"], a.Assign(Svc("a")).Lb());
        Assert.Equal(["192.0.2.11"], a.Assign(Svc("b")).Lb());
        var r = a.Assign(Svc("a"));
        Assert.Equal(["192.0.2.10"], r.Lb());
        Assert.False(r.Changed);
        Assert.Equal("p", r.LoadBalancer[0].Pool);
        Assert.Equal(32, r.LoadBalancer[0].PrefixLength);
    }

    [Fact]
    public void Assign_PoolExhausted_RefusesNamingThePool()
    {
        var (a, _) = New(null, Pool("tiny", "192.0.2.1"));
        a.Assign(Svc("a"));
        var r = a.Assign(Svc("b"));
        Assert.Empty(r.LoadBalancer);
        var refusal = Assert.Single(r.Refusals);
        Assert.Equal(RefusalReason.PoolExhausted, refusal.Reason);
        Assert.Contains("\"tiny\"", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Assign_RequestedAddress_IsHonoured()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24"));
        var r = a.Assign(Svc("a") with { RequestedAddresses = ["192.0.2.77"] });
        Assert.Equal(["192.0.2.77"], r.Lb());
        Assert.True(r.Changed);
        Assert.False(a.IsFree(A("192.0.2.77")));
    }

    public static TheoryData<string, string?, RefusalReason, string> RequestRefusals => new()
    {
        { "192.0.2.999", null, RefusalReason.MalformedAddress, "\"192.0.2.999\"" },
        { "203.0.113.5", null, RefusalReason.AddressNotInPool, "203.0.113.5 is not inside any usable IPPool" },
        { "192.0.2.5", "other", RefusalReason.AddressNotInPool, "192.0.2.5 is not in the requested pool \"other\"" },
        { "192.0.2.5", "missing", RefusalReason.NoSuchPool, "pool \"missing\" does not exist" },
        { "192.0.2.1", null, RefusalReason.AddressInUse, "192.0.2.1 is in use by Service default/holder" },
        { "2001:db8::5", null, RefusalReason.InvalidRequest, "2001:db8::5 is IPv6" },
    };

    [Theory]
    [MemberData(nameof(RequestRefusals))]
    public void Assign_RequestedAddressRefused_NamesAddressAndWhy(string requested, string? pool, RefusalReason reason, string message)
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24", "2001:db8::/120"), Pool("other", "198.51.100.0/24"));
        a.Assign(Svc("holder") with { RequestedAddresses = ["192.0.2.1"] });
        var r = a.Assign(Svc("x") with { RequestedAddresses = [requested], RequestedPool = pool });
        Assert.Empty(r.LoadBalancer);
        var refusal = Assert.Single(r.Refusals);
        Assert.Equal(reason, refusal.Reason);
        Assert.Contains(message, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Assign_RefusedChange_KeepsTheAddressTheServiceHad()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24"));
        a.Assign(Svc("other") with { RequestedAddresses = ["192.0.2.50"] });
        Assert.Equal(["192.0.2.0"], a.Assign(Svc("a")).Lb());
        var r = a.Assign(Svc("a") with { RequestedAddresses = ["192.0.2.50"] });
        Assert.Equal(RefusalReason.AddressInUse, Assert.Single(r.Refusals).Reason);
        Assert.Equal(["192.0.2.0"], r.Lb());
        Assert.False(r.Changed);
    }

    [Fact]
    public void Assign_PriorityAndSelectors_ChooseThePool()
    {
        var (a, _) = New(null,
            Pool("default", "192.0.2.0/24"),
            Pool("team", "198.51.100.0/24") with { ServiceAllocation = new() { Priority = 1, Namespaces = ["team"] } },
            Pool("gold", "203.0.113.0/24") with
            {
                ServiceAllocation = new() { Priority = 0, ServiceSelector = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["tier"] = "gold" } } },
            },
            Pool("labelled-ns", "203.0.113.128/25".Replace("128/25", "128/25", StringComparison.Ordinal)) with { AutoAssign = false });
        Assert.Equal(["192.0.2.0"], a.Assign(Svc("plain")).Lb());
        Assert.Equal(["198.51.100.0"], a.Assign(Svc("t", "team")).Lb());
        Assert.Equal(["203.0.113.0"], a.Assign(Svc("g", "team") with { Labels = new Dictionary<string, string> { ["tier"] = "gold" } }).Lb());
    }

    [Fact]
    public void Assign_NamespaceSelector_RestrictsEvenRequestedAddresses()
    {
        var sel = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["extip.io/allowed"] = "yes" } };
        var (a, _) = New(null, Pool("restricted", "192.0.2.0/24") with { ServiceAllocation = new() { NamespaceSelector = sel } });
        var refused = a.Assign(Svc("x") with { RequestedAddresses = ["192.0.2.9"] });
        Assert.Equal(RefusalReason.PoolNotAllowed, Assert.Single(refused.Refusals).Reason);
        Assert.Equal(RefusalReason.NoPoolAvailable, Assert.Single(a.Assign(Svc("y")).Refusals).Reason);
        var ok = a.Assign(Svc("z") with { NamespaceLabels = new Dictionary<string, string> { ["extip.io/allowed"] = "yes" } });
        Assert.Equal(["192.0.2.0"], ok.Lb());
    }

    [Fact]
    public void Assign_AutoAssignFalse_UsedOnlyWhenAskedFor()
    {
        var (a, _) = New(null, Pool("manual", "192.0.2.0/24") with { AutoAssign = false });
        Assert.Equal(RefusalReason.NoPoolAvailable, Assert.Single(a.Assign(Svc("x")).Refusals).Reason);
        Assert.Equal(["192.0.2.0"], a.Assign(Svc("y") with { RequestedPool = "manual" }).Lb());
        Assert.Equal(["192.0.2.200"], a.Assign(Svc("z") with { RequestedAddresses = ["192.0.2.200"] }).Lb());
    }

    [Fact]
    public void Assign_AvoidBuggyIPs_SkipsDotZeroAndDot255()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.254-192.0.3.1") with { AvoidBuggyIPs = true });
        Assert.Equal(["192.0.2.254"], a.Assign(Svc("a")).Lb());
        Assert.Equal(["192.0.3.1"], a.Assign(Svc("b")).Lb());
        Assert.Equal(RefusalReason.PoolExhausted, Assert.Single(a.Assign(Svc("c")).Refusals).Reason);
        Assert.Equal(["192.0.2.255"], a.Assign(Svc("d") with { RequestedAddresses = ["192.0.2.255"] }).Lb());
    }

    [Fact]
    public void Sharing_SameKeyDisjointPorts_SharesOneAddress()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24"));
        var web = a.Assign(Svc("web").WithPorts(80) with { SharingKey = "k" });
        var dns = a.Assign(Svc("dns").WithPorts(53) with { SharingKey = "k" });
        Assert.Equal(web.Lb(), dns.Lb());
        Assert.Equal(2, a.HoldersOf(web.LoadBalancer[0].Address).Count);
    }

    public static TheoryData<ServiceRequest, RefusalReason, string> SharingRefusals => new()
    {
        { Svc("b").WithPorts(80) with { SharingKey = "k" }, RefusalReason.SharingConflict, "port 80/TCP is already used by Service default/a" },
        { Svc("b").WithPorts(443) with { SharingKey = "other" }, RefusalReason.AddressInUse, "sharing key \"k\", not \"other\"" },
        { Svc("b").WithPorts(443), RefusalReason.AddressInUse, "this Service has none" },
        { Svc("b").WithPorts(443) with { SharingKey = "k", ExternalTrafficPolicy = TrafficPolicy.Local }, RefusalReason.SharingConflict, "externalTrafficPolicy Local cannot share" },
    };

    [Theory]
    [MemberData(nameof(SharingRefusals))]
    public void Sharing_IncompatibleRequest_IsRefusedWithReason(ServiceRequest second, RefusalReason reason, string message)
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24"));
        a.Assign(Svc("a").WithPorts(80) with { SharingKey = "k", RequestedAddresses = ["192.0.2.1"] });
        var r = a.Assign(second with { RequestedAddresses = ["192.0.2.1"] });
        var refusal = Assert.Single(r.Refusals);
        Assert.Equal(reason, refusal.Reason);
        Assert.Contains(message, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sharing_LocalPolicy_RequiresSameSelector()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24"));
        var sel = new Dictionary<string, string> { ["app"] = "x" };
        var first = a.Assign(Svc("a").WithPorts(80) with { SharingKey = "k", ExternalTrafficPolicy = TrafficPolicy.Local, Selector = sel });
        var same = a.Assign(Svc("b").WithPorts(81) with { SharingKey = "k", ExternalTrafficPolicy = TrafficPolicy.Local, Selector = new Dictionary<string, string>(sel) });
        Assert.Equal(first.Lb(), same.Lb());
        var other = a.Assign(Svc("c").WithPorts(82) with
        {
            SharingKey = "k", ExternalTrafficPolicy = TrafficPolicy.Local, Selector = new Dictionary<string, string> { ["app"] = "y" },
            RequestedAddresses = first.Lb(),
        });
        Assert.Equal(RefusalReason.SharingConflict, Assert.Single(other.Refusals).Reason);
    }

    [Fact]
    public void Sharing_AutomaticWithConflictingPorts_GetsItsOwnAddress()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24"));
        var x = a.Assign(Svc("a").WithPorts(80) with { SharingKey = "k" });
        var y = a.Assign(Svc("b").WithPorts(80) with { SharingKey = "k" });
        Assert.NotEqual(x.Lb(), y.Lb());
        Assert.True(y.Ok);
    }

    [Fact]
    public void DualStack_Require_GivesBothFamilies_PrimaryFirst()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24", "2001:db8::/120"));
        Assert.Equal(["2001:db8::", "192.0.2.0"], a.Assign(Svc("a").Dual(IpFamilyPolicy.RequireDualStack, IpFamily.IPv6)).Lb());
        Assert.Equal(["192.0.2.1", "2001:db8::1"], a.Assign(Svc("b").Dual()).Lb());
    }

    [Fact]
    public void DualStack_RequireWithoutV6_IsRefused_PreferFallsBackToOne()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24"));
        var req = a.Assign(Svc("a").Dual(IpFamilyPolicy.RequireDualStack));
        Assert.Empty(req.LoadBalancer);
        Assert.Equal(RefusalReason.NoPoolAvailable, Assert.Single(req.Refusals).Reason);
        Assert.True(a.IsFree(A("192.0.2.0")));
        var pref = a.Assign(Svc("b").Dual(IpFamilyPolicy.PreferDualStack));
        Assert.Equal(["192.0.2.0"], pref.Lb());
        Assert.True(pref.Ok);
    }

    [Fact]
    public void DualStack_SingleStackIPv6_TakesOnlyIPv6()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24", "2001:db8::/120"));
        Assert.Equal(["2001:db8::"], a.Assign(Svc("a") with { Families = [IpFamily.IPv6] }).Lb());
    }

    [Fact]
    public void Release_FreesTheAddress_WithoutGrace()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.1"));
        a.Assign(Svc("a"));
        Assert.True(a.Release(new ServiceKey("default", "a")));
        Assert.True(a.IsFree(A("192.0.2.1")));
        Assert.Equal(["192.0.2.1"], a.Assign(Svc("b")).Lb());
    }

    [Fact]
    public void Sticky_RecreatedWithinGrace_GetsItsOldAddress_OthersDoNot()
    {
        var (a, time) = New(new AllocatorOptions { StickyGrace = TimeSpan.FromMinutes(5) }, Pool("p", "192.0.2.1-192.0.2.3"));
        a.Assign(Svc("first"));
        var old = a.Assign(Svc("s")).Lb();
        a.Release(new ServiceKey("default", "s"));
        Assert.Equal(["192.0.2.3"], a.Assign(Svc("other")).Lb());
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(old, a.Assign(Svc("s")).Lb());
    }

    [Fact]
    public void Sticky_AfterGrace_AddressIsFreeAgain()
    {
        var (a, time) = New(new AllocatorOptions { StickyGrace = TimeSpan.FromMinutes(5) }, Pool("p", "192.0.2.1"));
        a.Assign(Svc("s"));
        a.Release(new ServiceKey("default", "s"));
        Assert.Equal(RefusalReason.PoolExhausted, Assert.Single(a.Assign(Svc("other")).Refusals).Reason);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(["192.0.2.1"], a.Assign(Svc("other")).Lb());
    }

    [Fact]
    public void StatusWrittenByAnotherWriter_WinsOverWhatOnlyThisAllocatorHolds_WhenValidAndFree()
    {
        // A previous leader's last write can land after this one reloaded: the Service then shows
        // an address this allocator did not give it. Clients use what the status shows.
        var (a, _) = New(null, Pool("p", "192.0.2.0/24"));
        Assert.Equal(["192.0.2.0"], a.Assign(Svc("s")).Lb());
        var adopted = a.Assign(Svc("s") with { CurrentAddresses = ["192.0.2.9"] });
        Assert.True(adopted.Changed);
        Assert.Equal(["192.0.2.9"], adopted.Lb());
        Assert.Equal(["192.0.2.0"], a.Assign(Svc("other")).Lb());

        // Not when the shown address is someone else's, or outside every pool.
        Assert.Equal(["192.0.2.9"], a.Assign(Svc("s") with { CurrentAddresses = ["192.0.2.0"] }).Lb());
        Assert.Equal(["192.0.2.9"], a.Assign(Svc("s") with { CurrentAddresses = ["198.51.100.1"] }).Lb());
    }

    [Fact]
    public void Reload_FromServiceStatus_KeepsEveryAddress()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24"));
        var requests = Enumerable.Range(0, 20).Select(i => Svc($"s{i}")).ToList();
        var before = requests.ToDictionary(r => r.Key, r => a.Assign(r).Lb());
        a.Release(new ServiceKey("default", "s3"));
        before.Remove(new ServiceKey("default", "s3"));

        var (b, _) = New(null, Pool("p", "192.0.2.0/24"));
        var reloaded = b.AssignAll(requests.Where(r => r.Key.Name != "s3").Select(r => r with { CurrentAddresses = before[r.Key] })
            .Append(Svc("new")).Reverse());
        foreach (var (k, v) in before)
        {
            Assert.Equal(v, reloaded[k].Lb());
        }

        Assert.Equal(["192.0.2.3"], reloaded[new ServiceKey("default", "new")].Lb());
    }

    [Fact]
    public void ExternalIPs_DefaultPolicy_AcceptedOnlyInAllowingPools()
    {
        var (a, _) = New(null,
            Pool("lb", "192.0.2.0/24"),
            Pool("ext", "198.51.100.0/24") with { AllowExternalIPs = true, AutoAssign = false });
        var r = a.Assign(Svc("s") with { WantsLoadBalancer = false, ExternalIPs = ["198.51.100.7", "192.0.2.8", "203.0.113.1", "nonsense"] });
        Assert.Equal(["198.51.100.7"], r.ExternalIPs.Select(x => x.Address.ToString()));
        Assert.Collection(r.Refusals,
            x => Assert.Contains("192.0.2.8 is in pool \"lb\", which does not set allowExternalIPs", x.Message, StringComparison.Ordinal),
            x => Assert.Contains("203.0.113.1 is not inside any IPPool", x.Message, StringComparison.Ordinal),
            x => Assert.Equal(RefusalReason.MalformedAddress, x.Reason));
        Assert.False(a.IsFree(A("198.51.100.7")));
    }

    [Fact]
    public void ExternalIPs_CannotHijackAnotherServicesAddress()
    {
        var (a, _) = New(new AllocatorOptions { ExternalIPs = ExternalIpPolicy.Any, StickyGrace = TimeSpan.Zero }, Pool("lb", "192.0.2.0/24"));
        var victim = a.Assign(Svc("victim", "prod")).Lb()[0];
        var r = a.Assign(Svc("thief", "evil") with { WantsLoadBalancer = false, ExternalIPs = [victim] });
        Assert.Empty(r.ExternalIPs);
        Assert.Equal(RefusalReason.AddressInUse, Assert.Single(r.Refusals).Reason);
        // The refusal says the address is taken, and never what another namespace runs (issue 11).
        Assert.Equal($"spec.externalIPs: {victim} is in use by a Service in another namespace", r.Refusals[0].Message);
        Assert.Equal([victim], a.LoadBalancerOf(new ServiceKey("prod", "victim")).Select(x => x.Address.ToString()));
    }

    [Theory]
    [InlineData(ExternalIpPolicy.Any, true)]
    [InlineData(ExternalIpPolicy.Deny, false)]
    public void ExternalIPs_AnyAndDenyPolicies(ExternalIpPolicy policy, bool accepted)
    {
        var (a, _) = New(new AllocatorOptions { ExternalIPs = policy, StickyGrace = TimeSpan.Zero }, Pool("lb", "192.0.2.0/24"));
        var r = a.Assign(Svc("s") with { WantsLoadBalancer = false, ExternalIPs = ["203.0.113.1"] });
        Assert.Equal(accepted, r.ExternalIPs.Count == 1);
        Assert.Equal(accepted, r.Ok);
        if (!accepted)
        {
            Assert.Contains("--external-ips=deny", r.Refusals[0].Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void SetPools_PoolRemoved_ServiceLosesAddressOnNextAssign_OthersKeepTheirs()
    {
        var (a, _) = New(null, Pool("keep", "192.0.2.0/24"), Pool("gone", "198.51.100.0/24") with { ServiceAllocation = new() { Priority = 1, Namespaces = ["x"] } });
        var kept = a.Assign(Svc("k")).Lb();
        Assert.Equal(["198.51.100.0"], a.Assign(Svc("g", "x")).Lb());
        a.SetPools([Pool("keep", "192.0.2.0/24")]);
        Assert.Equal(kept, a.Assign(Svc("k")).Lb());
        var moved = a.Assign(Svc("g", "x"));
        Assert.Equal(["192.0.2.1"], moved.Lb());
        Assert.True(moved.Changed);
    }

    [Fact]
    public void Usage_CountsPerFamily()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/30", "2001:db8::/126"));
        a.Assign(Svc("a").Dual());
        a.Assign(Svc("b"));
        var u = Assert.Single(a.Usage());
        Assert.Equal(((UInt128)4, 2L, (UInt128)4, 1L), (u.CapacityV4, u.InUseV4, u.CapacityV6, u.InUseV6));
        Assert.False(u.ExhaustedV4);
    }

    [Fact]
    public void NotWantingLoadBalancer_ReleasesAddress()
    {
        var (a, _) = New(null, Pool("p", "192.0.2.0/24"));
        a.Assign(Svc("a"));
        var r = a.Assign(Svc("a") with { WantsLoadBalancer = false });
        Assert.True(r.Changed);
        Assert.Empty(r.LoadBalancer);
        Assert.True(a.IsFree(A("192.0.2.0")));
    }
}
