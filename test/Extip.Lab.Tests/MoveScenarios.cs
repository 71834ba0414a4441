using System.Net;
using Extip.Cli.Lab;
using k8s;
using k8s.Models;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>
/// Moves extip decides itself are make-before-break: while the address's node is stopped
/// (SIGTERM: it drains) and started again, labelled out of external load balancers and back, and
/// every agent restarted one by one, some node's kernel always holds the address, and in BGP
/// mode the router always has a route for it. Watched all along by sampling the kernels.
/// </summary>
public sealed class MoveScenarios(ITestOutputHelper output)
{
    private const string Exclude = "node.kubernetes.io/exclude-from-external-load-balancers";
    private static readonly IPAddress Seed = LabObjects.SeedV4;

    private static V1Patch Label(string value) => new("{\"metadata\":{\"labels\":{\"" + Exclude + "\":" + value + "}}}", V1Patch.PatchType.MergePatch);

    [Theory]
    [InlineData("bgp")]
    [InlineData("l2")]
    public async Task PlannedMovesAndARollingRestart_TheAddressIsNeverOnNoNode_NorWithoutARoute(string mode)
    {
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "3", "--agents", "3", "--mode", mode, "--distribution", "balance");
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        var iface = mode == "l2" ? "eth0" : "lo";
        await lab.Until(() => lab.Holders(Seed, iface), h => h.Count == 1, $"{Seed} on one node");
        if (mode == "bgp")
        {
            await lab.Until(() => lab.RoutedTo(Seed), r => r.Count == 1, $"the router routing {Seed}");
        }

        await lab.UntilAsync(() => lab.AskAsync(Seed, 5), a => a.All(n => n is not null), "the client reaching the seed's address");

        // The kernels (and the router's route) sampled as fast as they can be read, from now on.
        var gaps = new List<string>();
        var samples = 0;
        using var stop = new CancellationTokenSource();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var sampling = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var held = lab.Holders(Seed, iface);
                var routed = mode == "bgp" ? lab.RoutedTo(Seed) : held;
                if (held.Count == 0 || routed.Count == 0)
                {
                    gaps.Add($"{clock.Elapsed.TotalMilliseconds:F0} ms: held by [{string.Join(",", held)}], routed to [{string.Join(",", routed)}]");
                }

                samples++;
            }
        });
        var probe = new Prober(lab.State.Client, Seed, lab.State.Spec.Port) { Interval = TimeSpan.FromMilliseconds(5) };
        var probing = probe.RunAsync(TimeSpan.FromMinutes(10), ct: stop.Token);
        var steps = new List<string>();
        async Task MovedOffAsync(string holder, string how)
        {
            await lab.Until(() => lab.Holders(Seed, iface), h => h.Count == 1 && h[0] != holder, $"after {how} {holder}: {Seed} on another node only");
            steps.Add($"{how} {holder} at {clock.Elapsed.TotalMilliseconds:F0} ms");
        }

        // Two planned moves of each kind.
        for (var round = 0; round < 4; round++)
        {
            var holder = (await lab.ClaimAsync(Seed))!.Spec.Nodes.Single();
            if (round % 2 == 0)
            {
                await lab.MustAsync("lab", "fail", holder, "--how", "stop");
                await MovedOffAsync(holder, "stop");
                await lab.MustAsync("lab", "heal", holder);
            }
            else
            {
                await lab.Client.CoreV1.PatchNodeAsync(Label("\"true\""), holder);
                await MovedOffAsync(holder, "label out");
                await lab.Client.CoreV1.PatchNodeAsync(Label("null"), holder);
            }
        }

        // A rolling restart: every agent stopped and started again, one after the other.
        foreach (var node in lab.State.Spec.AgentNodes)
        {
            await lab.MustAsync("lab", "fail", node, "--how", "stop");
            await lab.MustAsync("lab", "heal", node);
            steps.Add($"restarted {node} at {clock.Elapsed.TotalMilliseconds:F0} ms");
        }

        await lab.UntilAsync(() => lab.AskAsync(Seed, 5), a => a.All(n => n is not null), "the client reaching the seed's address after the restarts");
        await stop.CancelAsync();
        await sampling;
        var seen = await probing;
        lab.Log($"{mode}: {string.Join("; ", steps)}; {samples} kernel samples; prober {seen.Succeeded} ok, {seen.Failed} failed, longest gap {seen.LongestGap.TotalMilliseconds:F0} ms");
        Assert.True(gaps.Count == 0, $"the address was on no node, or the router had no route for it: {string.Join("; ", gaps.Take(20))}\n{lab.LogLines(["BGP", "BFD", "withdr", "removed", "fence"])}\n{lab.Logs()}");
        Assert.True(samples > 100, $"only {samples} samples");
    }
}
