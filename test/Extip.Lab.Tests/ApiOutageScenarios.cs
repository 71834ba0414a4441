using System.Collections.Concurrent;
using Extip.Cli.Lab;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>The data plane outlives the control plane: an API server outage never takes an address away (BGP, All).</summary>
public sealed class ApiOutageScenarios(ITestOutputHelper output)
{
    [Fact]
    public async Task ApiServerFrozen30s_ThenKilled60sAndRestarted_BgpAll_NoRequestFails_NoAddressRemoved_NoClaimMoves()
    {
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "3", "--agents", "2");
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        var seed = LabObjects.SeedV4;
        await lab.Until(() => lab.RoutedTo(seed), r => r.SequenceEqual(["k8s1", "k8s2"]), "the seed routed to both agents");
        var claim = (await lab.ClaimAsync(seed))!;

        // Every request must be answered (a generous timeout: a busy machine delays, it does not fail),
        // and the address must stay on both nodes and in the router all the time.
        var probe = new Prober(lab.State.Client, seed, lab.State.Spec.Port) { Interval = TimeSpan.FromMilliseconds(20), Timeout = TimeSpan.FromSeconds(15) };
        using var stop = new CancellationTokenSource();
        var probing = probe.RunAsync(TimeSpan.FromMinutes(10), ct: stop.Token);
        var seen = new ConcurrentBag<string>();
        var watching = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                seen.Add($"holders {string.Join(',', lab.Holders(seed, "lo"))} routed {string.Join(',', lab.RoutedTo(seed))}");
                await Task.Delay(50);
            }
        });

        foreach (var (how, outage) in new[] { ("freeze", TimeSpan.FromSeconds(30)), ("kill", TimeSpan.FromSeconds(60)) })
        {
            await lab.MustAsync("lab", "fail", "apiserver", "--how", how);
            lab.Log($"API server {how}: the outage lasts {outage.TotalSeconds} s");
            await Task.Delay(outage); // the scenario: the outage's length, not a wait for a state
            await lab.MustAsync("lab", "heal", "apiserver");
            foreach (var node in new[] { "k8s1", "k8s2" })
            {
                await lab.UntilAsync(() => LabObjects.NodeReadyAsync(lab.Client, node, CancellationToken.None), r => r, $"after the {how}: {node}'s agent Ready again");
            }

            var now = (await lab.ClaimAsync(seed))!;
            Assert.Equal(claim.Spec.Nodes, now.Spec.Nodes);
        }

        await stop.CancelAsync();
        var result = await probing;
        await watching;
        lab.Log($"during both outages: {result.Succeeded} answered, {result.Failed} failed, longest gap {result.LongestGap.TotalMilliseconds:F0} ms");
        Assert.Equal(0, result.Failed);
        Assert.True(result.Succeeded > 0);
        Assert.All(seen, s => Assert.Equal("holders k8s1,k8s2 routed k8s1,k8s2", s));
        Assert.Equal(claim.Metadata.ResourceVersion, (await lab.ClaimAsync(seed))!.Metadata.ResourceVersion);
    }
}
