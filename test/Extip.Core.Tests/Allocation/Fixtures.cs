using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;
using Microsoft.Extensions.Time.Testing;

namespace Extip.Core.Tests.Allocation;

internal static class Fixtures
{
    public static ServiceRequest Svc(string name, string ns = "default") => new() { Key = new ServiceKey(ns, name), Ports = [new("TCP", 80)] };

    public static ServiceRequest WithPorts(this ServiceRequest r, params int[] ports) => r with { Ports = ports.Select(p => new ServicePort("TCP", p)).ToArray() };

    public static ServiceRequest Dual(this ServiceRequest r, IpFamilyPolicy policy = IpFamilyPolicy.RequireDualStack, IpFamily primary = IpFamily.IPv4) =>
        r with { FamilyPolicy = policy, Families = [primary, primary.Other()] };

    public static (Allocator Alloc, FakeTimeProvider Time) New(AllocatorOptions? options = null, params IpPoolSpec[] pools)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var a = new Allocator(options ?? new AllocatorOptions { StickyGrace = TimeSpan.Zero }, time);
        a.SetPools(pools);
        return (a, time);
    }

    public static IpPoolSpec Pool(string name, params string[] addresses) => new() { Name = name, Addresses = addresses };

    public static string[] Lb(this AllocationResult r) => r.LoadBalancer.Select(a => a.Address.ToString()).ToArray();

    public static Address A(string s) => Address.Parse(s);
}
