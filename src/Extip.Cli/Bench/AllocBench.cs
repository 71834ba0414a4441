using System.Diagnostics;
using System.Globalization;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench alloc</c>: N Services, 40% IPv4-only, 40% IPv6-only and 20% dual-stack,
/// allocated automatically from one IPv4 and one IPv6 pool. Only <see cref="Allocator.Assign"/> is timed.
/// </summary>
internal static class AllocBench
{
    public static int Run(int services, int v4Prefix, int v6Prefix, TextWriter output)
    {
        var pools = new[]
        {
            new IpPoolSpec { Name = "v4", Addresses = [V4Pool(v4Prefix)] },
            new IpPoolSpec { Name = "v6", Addresses = [$"2001:db8::/{v6Prefix}"] },
        };

        // Warm up on separate allocators for a second, long enough for the tiered JIT to
        // finish optimizing, so that the timed run measures steady state.
        var warmRequests = Requests(5_000, "warm");
        for (var warm = Stopwatch.StartNew(); warm.Elapsed < TimeSpan.FromSeconds(1);)
        {
            Allocate(pools, warmRequests);
        }

        GC.Collect();

        var requests = Requests(services, "bench");
        var gcBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration());
        var bytesBefore = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        var (addresses, refused) = Allocate(pools, requests);
        sw.Stop();

        var seconds = sw.Elapsed.TotalSeconds;
        var gcPause = (GC.GetTotalPauseDuration() - gcBefore.Item4).TotalSeconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"GC during the run: gen0 {GC.CollectionCount(0) - gcBefore.Item1}, gen1 {GC.CollectionCount(1) - gcBefore.Item2}, gen2 {GC.CollectionCount(2) - gcBefore.Item3}, paused {gcPause:F3} s; {(GC.GetAllocatedBytesForCurrentThread() - bytesBefore) / services} bytes allocated per Service"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"allocated {addresses} addresses to {services - refused} of {services} Services from {pools[0].Addresses[0]} and {pools[1].Addresses[0]} in {seconds:F3} s"));
        BenchResult.Print(output, new()
        {
            ["bench"] = "alloc",
            ["services"] = services,
            ["seconds"] = Math.Round(seconds, 4),
            ["allocsPerSec"] = Math.Round(services / seconds),
            ["peakRssMb"] = BenchResult.PeakRssMb(),
            ["addresses"] = addresses,
            ["refused"] = refused,
            ["v4Pool"] = pools[0].Addresses[0],
            ["v6Pool"] = pools[1].Addresses[0],
        });
        return refused == 0 ? 0 : 1;
    }

    private static string V4Pool(int prefix) => prefix switch
    {
        <= 8 => $"10.0.0.0/{prefix}",
        _ => $"198.18.0.0/{prefix}",
    };

    private static (long Addresses, int Refused) Allocate(IpPoolSpec[] pools, List<ServiceRequest> requests)
    {
        var alloc = new Allocator(new AllocatorOptions { StickyGrace = TimeSpan.Zero });
        alloc.SetPools(pools);
        long addresses = 0;
        var refused = 0;
        foreach (var r in requests)
        {
            var result = alloc.Assign(r);
            addresses += result.LoadBalancer.Count;
            refused += result.Ok ? 0 : 1;
        }

        return (addresses, refused);
    }

    private static List<ServiceRequest> Requests(int n, string ns)
    {
        var list = new List<ServiceRequest>(n);
        for (var i = 0; i < n; i++)
        {
            var kind = i % 5;
            list.Add(new ServiceRequest
            {
                Key = new ServiceKey(ns, string.Create(CultureInfo.InvariantCulture, $"svc-{i}")),
                Ports = [new ServicePort("TCP", 443)],
                FamilyPolicy = kind == 4 ? IpFamilyPolicy.RequireDualStack : IpFamilyPolicy.SingleStack,
                Families = kind is 2 or 3 ? [IpFamily.IPv6] : [IpFamily.IPv4, IpFamily.IPv6],
            });
        }

        return list;
    }
}
