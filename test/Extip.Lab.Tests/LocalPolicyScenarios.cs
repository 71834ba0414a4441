using System.Net;
using Extip.Cli.Lab;
using k8s;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>
/// <c>externalTrafficPolicy: Local</c> in the lab: the Service's ready endpoints move from node to
/// node (its EndpointSlice written as the endpoint controller would while a Deployment is scaled
/// and rolled); the router's next hops follow them, the client keeps being answered, and with no
/// endpoint left the address is withdrawn and the Service says why.
/// </summary>
public sealed class LocalPolicyScenarios(ITestOutputHelper output)
{
    private static readonly IPAddress Seed = LabObjects.SeedV4;

    [Fact]
    public async Task EndpointsMoveFromNodeToNode_TheRoutersNextHopsFollow_NoneLeft_WithdrawnAndSaid()
    {
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "3", "--agents", "3", "--mode", "bgp", "--distribution", "all");
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        await lab.Until(() => lab.RoutedTo(Seed), r => r.Count == 3, $"the router routing {Seed} to the three nodes");

        var probe = new Prober(lab.State.Client, Seed, lab.State.Spec.Port) { Interval = TimeSpan.FromMilliseconds(5) };
        using var stop = new CancellationTokenSource();
        Task<ProbeResult>? probing = null;
        string[][] steps = [["k8s1"], ["k8s1", "k8s2"], ["k8s2"], ["k8s2", "k8s3"], ["k8s3"], ["k8s1", "k8s3"]];
        foreach (var nodes in steps)
        {
            await LabObjects.SetLocalEndpointsAsync(lab.Client, lab.State, nodes, CancellationToken.None);
            await lab.Until(() => lab.RoutedTo(Seed), r => r.SequenceEqual(nodes), $"the router routing {Seed} to [{string.Join(",", nodes)}], the nodes with a ready endpoint");
            await lab.UntilAsync(() => lab.AskAsync(Seed, 10), a => a.All(n => n is not null && nodes.Contains(n)), $"the client answered only by [{string.Join(",", nodes)}]");
            Assert.Equal(nodes, (await lab.ClaimAsync(Seed))!.Spec.Nodes);
            probing ??= probe.RunAsync(TimeSpan.FromMinutes(10), ct: stop.Token);
        }

        await stop.CancelAsync();
        var seen = await probing!;
        lab.Log($"while the endpoints moved: {seen.Succeeded} ok, {seen.Failed} failed, longest gap {seen.LongestGap.TotalMilliseconds:F0} ms");
        Assert.True(seen.Succeeded > 0);

        // No ready endpoint anywhere: withdrawn from every node, and the Service says why.
        await LabObjects.SetLocalEndpointsAsync(lab.Client, lab.State, [], CancellationToken.None);
        await lab.Until(() => lab.RoutedTo(Seed), r => r.Count == 0, $"no route for {Seed}");
        await lab.Until(() => lab.Holders(Seed, "lo"), h => h.Count == 0, $"{Seed} on no node");
        var events = await lab.UntilAsync(
            () => lab.Client.CoreV1.ListNamespacedEventAsync(LabObjects.ServiceNamespace),
            e => e.Items.Any(x => x.Reason == "NoReadyEndpoints" && x.InvolvedObject.Name == LabObjects.ServiceName),
            "a NoReadyEndpoints Event on the Service");
        Assert.Contains(Seed.ToString(), events.Items.First(x => x.Reason == "NoReadyEndpoints" && x.InvolvedObject.Name == LabObjects.ServiceName).Message, StringComparison.Ordinal);

        // One comes back: so does the address.
        await LabObjects.SetLocalEndpointsAsync(lab.Client, lab.State, ["k8s2"], CancellationToken.None);
        await lab.Until(() => lab.RoutedTo(Seed), r => r.SequenceEqual(["k8s2"]), $"the router routing {Seed} to k8s2 again");
    }
}
