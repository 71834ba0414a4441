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
