using Extip.Core.Allocation;
using Extip.Kubernetes.Models;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;

namespace Extip.Controller.Tests;

/// <summary>The leader's allocation state as a plain object: reload, report-as-new, release, the sticky grace on the injected clock.</summary>
public sealed class AllocationStateTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly AllocationState _state;
    private readonly List<IpPool> _pools = [];

    public AllocationStateTests()
    {
        _state = new AllocationState(new AllocatorOptions { StickyGrace = TimeSpan.FromMinutes(10) }, _time);
        _pools.Add(new IpPool { Metadata = new V1ObjectMeta { Name = "p", Generation = 1 }, Spec = new IpPoolSpecModel { Addresses = ["192.0.2.0/30"] } });
        Assert.Equal(1, _state.LoadPools(() => _pools));
    }

    private static ServiceRequest Request(string name, params string[] shown) => new()
    {
        Key = new ServiceKey("apps", name),
        CurrentAddresses = shown,
        Ports = [new ServicePort("TCP", 443)],
    };

    [Fact]
    public void Reload_GivesBackWhatServicesShow_AndAnAddressTheyDoNotShowYetIsReportedAsNewOnce()
    {
        Assert.Equal(2, _state.Reload([Request("web", "192.0.2.2"), Request("new")]));

        var web = _state.Assign(Request("web", "192.0.2.2"));
        Assert.Equal("192.0.2.2", Assert.Single(web.LoadBalancer).Address.ToString());
        Assert.False(web.Changed);

        // "new" got its address at the reload, but has not shown it: its first decision says so, once.
        var fresh = _state.Assign(Request("new"));
        Assert.True(fresh.Changed);
        Assert.False(_state.Assign(Request("new")).Changed);
    }

    [Fact]
    public void AFailedWrite_IsReportedAgainOnTheNextDecision()
    {
        var first = _state.Assign(Request("web"));
        Assert.True(first.Changed);
        Assert.False(_state.Assign(Request("web")).Changed);

        _state.ReportLater(new ServiceKey("apps", "web"));
        Assert.True(_state.Assign(Request("web")).Changed);
    }

    [Fact]
    public void Release_FreesTheService_KeepsTheAddressForTheStickyGraceOnTheInjectedClock()
    {
        var key = new ServiceKey("apps", "web");
        var ip = Assert.Single(_state.Assign(Request("web")).LoadBalancer).Address.ToString();
        Assert.True(_state.Holds(key));
        Assert.Null(_state.NextReservationExpiry);

        Assert.True(_state.Release(key));
        Assert.False(_state.Holds(key));
        Assert.False(_state.Release(key));
        Assert.True(_state.WasOurs(ip));
        Assert.False(_state.WasOurs("192.0.2.3"));
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromMinutes(10), _state.NextReservationExpiry);
        Assert.Equal(1, _state.PoolState().Usage.Single().ReservedV4);
    }

    [Fact]
    public void Snapshot_CarriesEachOwnersTrafficPolicy()
    {
        _state.Assign(Request("web") with { ExternalTrafficPolicy = TrafficPolicy.Local });
        var (held, pools) = _state.Snapshot();
        var h = Assert.Single(held);
        Assert.Equal("p", h.Pool);
        Assert.Equal([new Reconcilers.Owner(new ServiceKey("apps", "web"), TrafficPolicy.Local)], h.Owners);
        Assert.Single(pools.Pools);
        Assert.Equal([new ServiceKey("apps", "web")], _state.Assignments().Keys);
    }

    [Fact]
    public void AnInvalidPoolEdit_KeepsServingTheLastValidSpec()
    {
        var ip = Assert.Single(_state.Assign(Request("web")).LoadBalancer).Address;
        _pools[0] = new IpPool { Metadata = new V1ObjectMeta { Name = "p", Generation = 2 }, Spec = new IpPoolSpecModel { Addresses = ["192.0.2.9-192.0.2.1"] } };
        _state.LoadPools(() => _pools);

        Assert.Equal(1, _state.LastValidPool("p")?.Generation);
        Assert.Equal(ip, Assert.Single(_state.Assign(Request("web", ip.ToString())).LoadBalancer).Address);
        Assert.Contains(_state.PoolState().Pools.Problems, p => p.Pool == "p");
    }
}
