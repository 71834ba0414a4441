using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Extip.Cli.Lab;
using Extip.Kubernetes.Models;
using k8s;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>
/// A dead link is a dead node: the cable of the node holding the address is pulled (its uplink
/// loses its carrier) while its agent keeps renewing its Lease; the address moves, the node's
/// IPNode says why, and once the link is back the node may hold addresses again.
/// </summary>
public sealed class LinkScenarios(ITestOutputHelper output)
{
    private static readonly IPAddress Seed = LabObjects.SeedV4;

    private static async Task<IpNode> IpNodeAsync(LabDriver lab, string node)
    {
        var o = await lab.Client.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpNode.Plural, node);
        return KubernetesJson.Deserialize<IpNode>(((JsonElement)o).GetRawText());
    }

    [Theory]
    [InlineData("l2")]
    [InlineData("bgp")]
    public async Task UplinkDown_TheAddressMoves_WhileTheAgentRenews_BackUp_EligibleAgain(string mode)
    {
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "3", "--agents", "2", "--mode", mode, "--distribution", "balance");
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        var iface = mode == "l2" ? "eth0" : "lo";
        await lab.Until(() => lab.Holders(Seed, iface), h => h.Count == 1, $"{Seed} on one node");
        await lab.UntilAsync(() => lab.AskAsync(Seed, 3), a => a.All(n => n is not null), "the client reaching the seed's address");
        var first = (await lab.ClaimAsync(Seed))!.Spec.Nodes.Single();
        var second = first == "k8s1" ? "k8s2" : "k8s1";
        var lease = await lab.Client.CoordinationV1.ReadNamespacedLeaseAsync(ExtipApi.AgentLeasePrefix + first, "extip-system");

        var sw = Stopwatch.StartNew();
        await lab.MustAsync("lab", "fail", first, "--how", "link-down");
        await lab.UntilAsync(() => lab.AskAsync(Seed, 3), a => a.All(n => n == second), $"after {first}'s uplink went down: {second} answering");
        if (mode == "bgp")
        {
            await lab.Until(() => lab.RoutedTo(Seed), r => r.SequenceEqual([second]), $"the router routing {Seed} to {second}");
        }

        lab.Log($"{mode}: uplink of {first} down to {second} answering: {sw.ElapsedMilliseconds} ms");
        var claim = (await lab.ClaimAsync(Seed))!;
        Assert.Equal([second], claim.Spec.Nodes);

        // The agent stayed live (its Lease renewed meanwhile): the link, not the Lease, moved it;
        // its IPNode says the interface is down.
        var renewed = await lab.Client.CoordinationV1.ReadNamespacedLeaseAsync(ExtipApi.AgentLeasePrefix + first, "extip-system");
        Assert.Equal(first, renewed.Spec.HolderIdentity);
        Assert.NotEqual(lease.Spec.RenewTime, renewed.Spec.RenewTime);
        var status = await lab.UntilAsync(() => IpNodeAsync(lab, first), n => n.Status?.Interfaces.Any(i => i.Name == "eth0" && !i.Up) == true, $"{first}'s IPNode saying eth0 is down");
        Assert.Contains(status.Status!.Interfaces, i => i.Name == "lo" && i.Up);

        // Handed over make-before-break: it leaves the first node once the second holds it.
        await lab.Until(() => lab.Kernel(first, iface), k => !k.Contains(Seed), $"{Seed} gone from {first}");

        // Back up: eligible again. The other node's cable pulled now brings the address back.
        await lab.MustAsync("lab", "heal", first);
        await lab.UntilAsync(() => IpNodeAsync(lab, first), n => n.Status?.Interfaces.Any(i => i.Name == "eth0" && i.Up) == true, $"{first}'s IPNode saying eth0 is up");
        await lab.MustAsync("lab", "fail", second, "--how", "link-down");
        await lab.UntilAsync(() => lab.AskAsync(Seed, 3), a => a.All(n => n == first), $"after {second}'s uplink went down: {first} answering again");
        Assert.Equal([first], (await lab.ClaimAsync(Seed))!.Spec.Nodes);
        await lab.MustAsync("lab", "heal", second);
    }
}
