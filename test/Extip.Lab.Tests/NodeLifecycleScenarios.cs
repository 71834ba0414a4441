using System.Net;
using Extip.Cli.Lab;
using Extip.Controller;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>
/// Node lifecycle as Kubernetes signals it: the operator taints the node holding the address
/// <c>node.kubernetes.io/out-of-service</c> (it is shut down, whatever its agent says) and the
/// address moves at once, though that node's agent keeps renewing its Lease; without the taint the
/// node may hold addresses again.
/// </summary>
public sealed class NodeLifecycleScenarios(ITestOutputHelper output)
{
    private static readonly IPAddress Seed = LabObjects.SeedV4;

    [Fact]
    public async Task OutOfServiceTaint_MovesTheAddressAtOnce_TheLeaseStillRenewing_UntaintedEligibleAgain()
    {
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "3", "--agents", "2", "--mode", "bgp", "--distribution", "balance");
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        await lab.Until(() => lab.Holders(Seed, "lo"), h => h.Count == 1, $"{Seed} on one node");
        await lab.UntilAsync(() => lab.AskAsync(Seed, 3), a => a.All(n => n is not null), "the client reaching the seed's address");
        var first = (await lab.ClaimAsync(Seed))!.Spec.Nodes.Single();
        var second = first == "k8s1" ? "k8s2" : "k8s1";

        await SetTaintAsync(lab.Client, first, on: true);
        await lab.UntilAsync(() => lab.AskAsync(Seed, 3), a => a.All(n => n == second), $"after {first} was tainted out of service: {second} answering");
        await lab.Until(() => lab.RoutedTo(Seed), r => r.SequenceEqual([second]), $"the router routing {Seed} to {second} only");
        Assert.Equal([second], (await lab.ClaimAsync(Seed))!.Spec.Nodes);

        // The agent on the tainted node is alive and renewing: the taint, not the Lease, moved it.
        var lease = await lab.Client.CoordinationV1.ReadNamespacedLeaseAsync(ExtipApi.AgentLeasePrefix + first, "extip-system");
        await lab.UntilAsync(() => lab.Client.CoordinationV1.ReadNamespacedLeaseAsync(ExtipApi.AgentLeasePrefix + first, "extip-system"),
            l => l.Spec.HolderIdentity == first && l.Spec.RenewTime != lease.Spec.RenewTime, $"{first}'s agent still renewing its Lease");
        await lab.Until(() => lab.Kernel(first, "lo"), k => !k.Contains(Seed), $"{Seed} gone from {first}");

        // Back in service: the other node tainted now sends the address back to the first.
        await SetTaintAsync(lab.Client, first, on: false);
        await SetTaintAsync(lab.Client, second, on: true);
        await lab.UntilAsync(() => lab.AskAsync(Seed, 3), a => a.All(n => n == first), $"{first} untainted, {second} tainted: {first} answering again");
        await lab.Until(() => lab.RoutedTo(Seed), r => r.SequenceEqual([first]), $"the router routing {Seed} to {first} again");
        await SetTaintAsync(lab.Client, second, on: false);
    }

    private static async Task SetTaintAsync(IKubernetes client, string node, bool on)
    {
        var n = await client.CoreV1.ReadNodeAsync(node);
        n.Spec ??= new V1NodeSpec();
        var taints = (n.Spec.Taints ?? []).Where(t => t.Key != NodeSignals.OutOfServiceTaint).ToList();
        if (on)
        {
            taints.Add(new V1Taint { Key = NodeSignals.OutOfServiceTaint, Value = "nodeshutdown", Effect = "NoExecute" });
        }

        n.Spec.Taints = taints;
        await client.CoreV1.ReplaceNodeAsync(n, node);
    }
}
