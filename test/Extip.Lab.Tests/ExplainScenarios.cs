using System.Net;
using Extip.Cli.Lab;
using k8s;
using k8s.Models;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>
/// <c>extip explain</c> against the lab, end to end: the CLI reads the lab's API server and its
/// router, and names the cause of two broken setups (externalTrafficPolicy Local with no endpoint,
/// every node excluded) and where the address lives when all is well.
/// </summary>
public sealed class ExplainScenarios(ITestOutputHelper output)
{
    private const string Exclude = "node.kubernetes.io/exclude-from-external-load-balancers";
    private static readonly IPAddress Seed = LabObjects.SeedV4;

    [Fact]
    public async Task Explain_SaysWhereTheAddressLives_AndWhyItLivesNowhere()
    {
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "2", "--agents", "2", "--mode", "bgp", "--distribution", "balance");
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        var holder = (await lab.Until(() => lab.RoutedTo(Seed), r => r.Count == 1, $"the router routing {Seed}"))[0];
        Task<string> Explain() => lab.MustAsync("explain", "frontend", "--kubeconfig", lab.State.Kubeconfig);

        // All well: where it lives, and the router's route to it.
        var ok = await lab.UntilAsync(Explain, t => t.Contains($"OK: {Seed} held by {holder} and announced", StringComparison.Ordinal), "explain saying where the address lives");
        Assert.Contains($"the lab's router routes {Seed} to {holder}", ok, StringComparison.Ordinal);

        // Broken: externalTrafficPolicy Local and no ready endpoint anywhere.
        await LabObjects.SetLocalEndpointsAsync(lab.Client, lab.State, [], CancellationToken.None);
        var local = await lab.UntilAsync(Explain, t => t.Contains($"the lab's router has no route to {Seed}", StringComparison.Ordinal), "the address withdrawn and explained");
        Assert.Contains("PROBLEM:", local, StringComparison.Ordinal);
        Assert.Contains("no ready endpoint of the Service there (externalTrafficPolicy: Local)", local, StringComparison.Ordinal);

        // Broken: back to Cluster, but every node labelled out of external load balancers.
        await lab.Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"spec":{"externalTrafficPolicy":"Cluster"}}""", V1Patch.PatchType.MergePatch), "frontend", "default");
        foreach (var node in lab.State.Nodes)
        {
            await lab.Client.CoreV1.PatchNodeAsync(new V1Patch("{\"metadata\":{\"labels\":{\"" + Exclude + "\":\"true\"}}}", V1Patch.PatchType.MergePatch), node.Name);
        }

        var excluded = await lab.UntilAsync(Explain, t => t.Contains($"{Seed} is on no node", StringComparison.Ordinal), "explain saying the address is on no node");
        Assert.Contains("PROBLEM:", excluded, StringComparison.Ordinal);
        Assert.Contains($"excluded by the label {Exclude}", excluded, StringComparison.Ordinal);
        Assert.Contains($"the lab's router has no route to {Seed}", excluded, StringComparison.Ordinal);
    }
}
