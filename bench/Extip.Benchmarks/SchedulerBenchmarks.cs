using BenchmarkDotNet.Attributes;
using Extip.Core.Pools;
using Extip.Core.Scheduling;

namespace Extip.Benchmarks;

/// <summary>Placing claims over nodes, and re-placing them after a node is lost.</summary>
[MemoryDiagnoser]
public class SchedulerBenchmarks
{
    private List<ClaimDemand> _fresh = [];
    private List<ClaimDemand> _afterLoss = [];

    [Params(1_000, 10_000)]
    public int Claims { get; set; }

    [Params(10, 100)]
    public int Nodes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var nodes = Enumerable.Range(0, Nodes).Select(i => $"k8s{i}").ToList();
        _fresh = Enumerable.Range(0, Claims).Select(i => new ClaimDemand($"c{i}", Distribution.Balance, 1, nodes, [])).ToList();
        var placed = ClaimScheduler.Schedule(_fresh);
        var survivors = nodes.Skip(1).ToList();
        _afterLoss = _fresh.Select(c => c with { Eligible = survivors, Current = placed[c.Id] }).ToList();
    }

    [Benchmark]
    public int PlaceFresh() => ClaimScheduler.Schedule(_fresh).Count;

    [Benchmark]
    public int ReplaceAfterNodeLoss() => ClaimScheduler.Schedule(_afterLoss).Count;
}
