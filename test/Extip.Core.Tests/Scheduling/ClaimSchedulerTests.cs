using Extip.Core.Pools;
using Extip.Core.Scheduling;
using Extip.Core.Selectors;

namespace Extip.Core.Tests.Scheduling;

public class ClaimSchedulerTests
{
    private static ClaimDemand Balance(string id, string[] eligible, string[]? current = null, int k = 1) =>
        new(id, Distribution.Balance, k, eligible, current ?? []);

    [Fact]
    public void All_PutsTheAddressOnEveryEligibleNode()
    {
        var r = ClaimScheduler.Schedule([new ClaimDemand("a", Distribution.All, 1, ["k8s9", "k8s6"], [])]);
        Assert.Equal(["k8s6", "k8s9"], r["a"]);
    }

    [Fact]
    public void Balance_SpreadsEvenly()
    {
        string[] nodes = ["n1", "n2", "n3"];
        var r = ClaimScheduler.Schedule(Enumerable.Range(0, 7).Select(i => Balance($"c{i}", nodes)).ToList());
        var loads = nodes.Select(n => r.Values.Count(v => v.Contains(n))).ToList();
        Assert.True(loads.Max() - loads.Min() <= 1, string.Join(",", loads));
        Assert.Equal(7, loads.Sum());
    }

    [Fact]
    public void Balance_TwoPools_EachEvenOnItsOwn_TotalsEvenToo()
    {
        // The flapping-nodes report: a lo pool of 10 and an L2 pool of 11 over three agents came
        // out 4/4/2 and 3/3/4 (even only in total), and after chaos a node held 7 of 11 L2 addresses.
        string[] nodes = ["k8s1", "k8s2", "k8s3"];
        var skewed = new Dictionary<string, string[]>(StringComparer.Ordinal);
        for (var i = 0; i < 11; i++)
        {
            skewed[$"l2-{i:D2}"] = [i < 7 ? "k8s1" : "k8s2"];
        }

        for (var i = 0; i < 10; i++)
        {
            skewed[$"lo-{i:D2}"] = [i < 5 ? "k8s2" : "k8s3"];
        }

        var demands = skewed.Select(kv => new ClaimDemand(kv.Key, Distribution.Balance, 1, nodes, kv.Value) { Group = kv.Key[..2] }).ToList();
        var placed = ClaimScheduler.Schedule(demands);
        foreach (var pool in new[] { "l2", "lo" })
        {
            var loads = nodes.Select(n => placed.Count(p => p.Key.StartsWith(pool, StringComparison.Ordinal) && p.Value.Contains(n))).ToList();
            Assert.True(loads.Max() - loads.Min() <= 1, $"pool {pool}: {string.Join("/", loads)}");
        }

        var totals = nodes.Select(n => placed.Count(p => p.Value.Contains(n))).ToList();
        Assert.True(totals.Max() - totals.Min() <= 1, $"totals {string.Join("/", totals)}");
    }

    [Fact]
    public void Damping_ANodeInItsHoldDown_KeepsWhatItHas_GetsNothingToRebalance_NewAddressesOnlyAsALastResort()
    {
        // n3 is back, in its hold-down: the 6 addresses on n1 and n2 stay where they are (without
        // damping, two would move onto n3), and a new address goes to a settled node.
        string[] nodes = ["n1", "n2", "n3"];
        var demands = Enumerable.Range(0, 6).Select(i => Balance($"c{i}", nodes, [i < 3 ? "n1" : "n2"])).Append(Balance("new", nodes)).ToList();
        var settling = new HashSet<string>(["n3"], StringComparer.Ordinal);
        var held = ClaimScheduler.Schedule(demands, new SchedulerOptions { Settling = settling });
        Assert.All(Enumerable.Range(0, 6), i => Assert.Equal([i < 3 ? "n1" : "n2"], held[$"c{i}"]));
        Assert.NotEqual(["n3"], held["new"]);
        var undamped = ClaimScheduler.Schedule(demands);
        Assert.Equal(2, undamped.Count(p => p.Value.Contains("n3")));

        // Settled, it gets its share.
        var settled = ClaimScheduler.Schedule(demands);
        var loads = nodes.Select(n => settled.Count(p => p.Value.Contains(n))).ToList();
        Assert.True(loads.Max() - loads.Min() <= 1, string.Join("/", loads));

        // Only settling nodes eligible: they take the addresses (spread), rather than none.
        var orphans = Enumerable.Range(0, 4).Select(i => Balance($"o{i}", ["n3", "n4"])).ToList();
        var last = ClaimScheduler.Schedule(orphans, new SchedulerOptions { Settling = new HashSet<string>(["n3", "n4"], StringComparer.Ordinal) });
        Assert.Equal(2, last.Count(p => p.Value.Contains("n3")));
        Assert.Equal(2, last.Count(p => p.Value.Contains("n4")));
    }

    [Fact]
    public void GradualRebalancing_MovesAShareAtATime_UntilEven()
    {
        // 20 addresses on n1, n2 just settled: 10 must move, at most 10 % of the group (2) per step.
        string[] nodes = ["n1", "n2"];
        var current = Enumerable.Range(0, 20).ToDictionary(i => $"c{i:D2}", _ => (IReadOnlyList<string>)["n1"], StringComparer.Ordinal);
        var steps = 0;
        bool unbalanced;
        do
        {
            var placed = ClaimScheduler.Schedule([.. current.Select(kv => Balance(kv.Key, nodes, [.. kv.Value]))], new SchedulerOptions { RebalanceShare = 0.1 }, out unbalanced);
            var moved = placed.Count(p => !p.Value.SequenceEqual(current[p.Key]));
            Assert.InRange(moved, 1, 2);
            current = placed.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            steps++;
        }
        while (unbalanced);

        Assert.Equal(5, steps);
        Assert.Equal(10, current.Values.Count(v => v.Contains("n2")));
        Assert.False(ClaimScheduler.Schedule([.. current.Select(kv => Balance(kv.Key, nodes, [.. kv.Value]))], new SchedulerOptions { RebalanceShare = 0.1 }, out var still).Count == 0);
        Assert.False(still);
    }

    [Fact]
    public void Damping_NothingMovesOffAQuietNodeToRebalance()
    {
        // n1 holds 4, n2 none (just settled); n1's agent has gone quiet (hung, maybe): moving its
        // addresses would put each on two nodes until n1's Lease runs out.
        string[] nodes = ["n1", "n2"];
        var demands = Enumerable.Range(0, 4).Select(i => Balance($"c{i}", nodes, ["n1"])).ToList();
        var quiet = ClaimScheduler.Schedule(demands, new SchedulerOptions { Quiet = new HashSet<string>(["n1"], StringComparer.Ordinal) });
        Assert.All(quiet.Values, v => Assert.Equal(["n1"], v));
        Assert.Equal(2, ClaimScheduler.Schedule(demands).Count(p => p.Value.Contains("n2")));
    }

    [Fact]
    public void Balance_NodesPerAddress_GivesDistinctNodes()
    {
        var r = ClaimScheduler.Schedule([Balance("a", ["n1", "n2", "n3"], k: 2)]);
        Assert.Equal(2, r["a"].Distinct().Count());
    }

    [Fact]
    public void Balance_MoreNodesWantedThanEligible_TakesAllEligible()
    {
        var r = ClaimScheduler.Schedule([Balance("a", ["n1"], k: 3)]);
        Assert.Equal(["n1"], r["a"]);
    }

    [Fact]
    public void Balance_NodeLost_MovesOnlyItsAddresses()
    {
        var r = ClaimScheduler.Schedule([
            Balance("a", ["n1", "n2"], ["n1"]),
            Balance("b", ["n1", "n2"], ["n2"]),
            Balance("c", ["n1", "n2"], ["n3"]),
        ]);
        Assert.Equal(["n1"], r["a"]);
        Assert.Equal(["n2"], r["b"]);
        Assert.Single(r["c"]);
    }

    [Fact]
    public void Balance_NodeArrives_ReceivesOnlyWhatEvensTheSpread()
    {
        var claims = Enumerable.Range(0, 6).Select(i => Balance($"c{i}", ["n1", "n2", "n3"], [i % 2 == 0 ? "n1" : "n2"])).ToList();
        var r = ClaimScheduler.Schedule(claims);
        Assert.Equal(2, r.Values.Count(v => v.Contains("n3")));
        Assert.Equal(2, r.Values.Count(v => v.Contains("n1")));
        var off = ClaimScheduler.Schedule(claims, new SchedulerOptions { RebalanceOnArrival = false });
        Assert.DoesNotContain(off.Values, v => v.Contains("n3"));
    }

    [Fact]
    public void Balance_NoEligibleNode_GivesEmptyList()
    {
        var r = ClaimScheduler.Schedule([Balance("a", [])]);
        Assert.Empty(r["a"]);
    }

    [Fact]
    public void Eligibility_FiltersDeadExcludedUnselectedAndEndpointlessNodes()
    {
        var nodes = new[]
        {
            new NodeInfo("live", new Dictionary<string, string> { ["rack"] = "a" }, true),
            new NodeInfo("dead", new Dictionary<string, string> { ["rack"] = "a" }, false),
            new NodeInfo("excluded", new Dictionary<string, string> { ["rack"] = "a", [Eligibility.ExcludeLabel] = "" }, true),
            new NodeInfo("other-rack", new Dictionary<string, string> { ["rack"] = "b" }, true),
            new NodeInfo("no-endpoint", new Dictionary<string, string> { ["rack"] = "a" }, true),
        };
        var sel = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["rack"] = "a" } };
        Assert.Equal(["live", "no-endpoint"], Eligibility.EligibleNodes(nodes, sel, null));
        Assert.Equal(["live"], Eligibility.EligibleNodes(nodes, sel, new HashSet<string> { "live", "other-rack" }));
    }
}
