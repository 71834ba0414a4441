using BenchmarkDotNet.Attributes;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;

namespace Extip.Benchmarks;

/// <summary>Allocating into pools of very different sizes costs the same: the free list never scans the pool.</summary>
[MemoryDiagnoser]
public class AllocatorBenchmarks
{
    private ServiceRequest[] _requests = [];
    private Allocator _allocator = new();

    [Params("192.0.2.0/24", "198.18.0.0/16", "10.0.0.0/8", "2001:db8::/64")]
    public string Pool { get; set; } = "";

    [Params(200)]
    public int Services { get; set; }

    [IterationSetup]
    public void Setup()
    {
        _allocator = new Allocator(new AllocatorOptions { StickyGrace = TimeSpan.Zero });
        _allocator.SetPools([new IpPoolSpec { Name = "p", Addresses = [Pool] }]);
        var family = Pool.Contains(':', StringComparison.Ordinal) ? IpFamily.IPv6 : IpFamily.IPv4;
        _requests = Enumerable.Range(0, Services)
            .Select(i => new ServiceRequest { Key = new ServiceKey("bench", $"s{i}"), Families = [family] })
            .ToArray();
    }

    [Benchmark]
    public int AssignAll()
    {
        var n = 0;
        foreach (var r in _requests)
        {
            n += _allocator.Assign(r).LoadBalancer.Count;
        }

        return n;
    }
}
