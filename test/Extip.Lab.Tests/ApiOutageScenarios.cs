using k8s;
using System.Collections.Concurrent;
using System.Diagnostics;
using Extip.Cli.Lab;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>
/// The data plane outlives the control plane: an API server outage never takes an address away,
/// in BGP All, BGP Balance and L2; and a node cut off from the API server alone fences and hands
/// over, without two nodes answering for the address.
/// </summary>
public sealed class ApiOutageScenarios(ITestOutputHelper output)
{
    [Theory]
    [InlineData("bgp", "all")]
    [InlineData("bgp", "balance")]
    [InlineData("l2", "balance")]
    public async Task ApiServerFrozen30s_ThenKilled60sWithTheController_NoRequestFails_NoAddressRemoved_NoClaimMoves(string mode, string distribution)
    {
        await using var lab = new LabDriver(output);
        // Without BFD: its 150 ms detection judges the machine's CPU stalls (a controller
        // starting on 2 busy cores once took a node's route away for a second, every request
        // still answered by the other); the failover tests measure BFD. This one is about the
        // API server, and the routes must stay whatever it does.
        string[] bfd = mode == "bgp" ? ["--no-bfd"] : [];
        await lab.MustAsync(["lab", "up", "--nodes", "3", "--agents", "2", "--mode", mode, "--distribution", distribution, .. bfd]);
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        var seed = LabObjects.SeedV4;
        var iface = mode == "bgp" ? "lo" : "eth0";
        var holders = distribution == "all" ? 2 : 1;
        var claim = await lab.UntilAsync(() => lab.ClaimAsync(seed), c => c?.Spec.Nodes.Count == holders, $"the seed's claim on {holders} node(s)");
        var expected = string.Join(',', claim!.Spec.Nodes.Order(StringComparer.Ordinal));
        await lab.Until(() => lab.Holders(seed, iface), h => string.Join(',', h) == expected, $"the seed's address on {expected}");
        if (mode == "bgp")
        {
            await lab.Until(() => lab.RoutedTo(seed), r => string.Join(',', r) == expected, $"the seed routed to {expected}");
        }

        // Every request must be answered (a generous timeout: a busy machine delays, it does not fail),
        // and the address must stay on its nodes (and in the router) all the time.
        var probe = new Prober(lab.State.Client, seed, lab.State.Spec.Port) { Interval = TimeSpan.FromMilliseconds(20), Timeout = TimeSpan.FromSeconds(15) };
        using var stop = new CancellationTokenSource();
        var probing = probe.RunAsync(TimeSpan.FromMinutes(10), ct: stop.Token);
        var probeStart = DateTime.Now;
        var seen = new ConcurrentBag<string>();
        var want = mode == "bgp" ? $"holders {expected} routed {expected}" : $"holders {expected}";
        var watching = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var now = mode == "bgp"
                    ? $"holders {string.Join(',', lab.Holders(seed, iface))} routed {string.Join(',', lab.RoutedTo(seed))}"
                    : $"holders {string.Join(',', lab.Holders(seed, iface))}";
                seen.Add(now == want ? now : $"{DateTime.Now:HH:mm:ss.fff} {now}");
                await Task.Delay(50);
            }
        });

        foreach (var (how, outage) in new[] { ("freeze", TimeSpan.FromSeconds(30)), ("kill", TimeSpan.FromSeconds(60)) })
        {
            await lab.MustAsync("lab", "fail", "apiserver", "--how", how);
            lab.Log($"API server {how}: the outage lasts {outage.TotalSeconds} s");
            if (how == "kill")
            {
                // The controller dies during the outage too; its replacement starts without the API.
                await lab.MustAsync("lab", "fail", "controller", "--how", "kill");
            }

            await Task.Delay(outage); // the scenario: the outage's length, not a wait for a state
            await lab.MustAsync("lab", "heal", "apiserver");
            var renewed = new List<Task>();
            foreach (var node in new[] { "k8s1", "k8s2" })
            {
                // Its Lease as the outage left it (or one renewal later): back when that changes.
                var name = $"extip-agent-{node}";
                var before = await lab.UntilAsync(() => RenewTimeAsync(lab, name), t => t is not null, $"after the {how}: {node}'s Lease readable");
                renewed.Add(lab.UntilAsync(() => RenewTimeAsync(lab, name), t => t != before, $"after the {how}: {node}'s agent renewing again"));
            }

            await Task.WhenAll(renewed);

            var now = (await lab.ClaimAsync(seed))!;
            Assert.Equal(claim.Spec.Nodes, now.Spec.Nodes);
        }

        // Four Lease durations after the API server is back: still no claim has moved.
        var settle = Stopwatch.StartNew();
        await lab.Until(() => settle.Elapsed, e => e > TimeSpan.FromSeconds(lab.State.Spec.LeaseSeconds * 4), "four Lease durations after the outage");
        await stop.CancelAsync();
        var result = await probing;
        await watching;
        lab.Log($"{mode} {distribution}, during both outages: {result.Succeeded} answered, {result.Failed} failed, longest gap {result.LongestGap.TotalMilliseconds:F0} ms");
        var failed = result.Samples.Where(x => !x.Ok).Select(x => probeStart.AddMilliseconds(x.AtMs).ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var odd = seen.Where(x => x != want).Order(StringComparer.Ordinal).ToList();
        if (failed.Count > 0 || odd.Count > 0)
        {
            lab.Log($"requests that failed, started at: {string.Join(", ", failed)}\nnot as expected ({want}): {string.Join("; ", odd.Take(20))}\n{lab.Logs(tail: 150)}");
        }

        Assert.Equal(0, result.Failed);
        Assert.True(result.Succeeded > 0);
        Assert.Empty(odd);
        Assert.Equal(claim.Metadata.ResourceVersion, (await lab.ClaimAsync(seed))!.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task OneNodeCutOffFromTheApiServerOnly_L2_ItFences_AnotherTakesOver_NeverTwoAnswering()
    {
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "3", "--agents", "2", "--mode", "l2", "--distribution", "balance");
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        var seed = LabObjects.SeedV4;
        var claim = await lab.UntilAsync(() => lab.ClaimAsync(seed), c => c?.Spec.Nodes.Count == 1, "the seed's claim on one node");
        var first = claim!.Spec.Nodes[0];
        var second = first == "k8s1" ? "k8s2" : "k8s1";
        await lab.Until(() => lab.Holders(seed, "eth0"), h => h.SequenceEqual([first]), $"the seed's address on {first}");

        var probe = new Prober(lab.State.Client, seed, lab.State.Spec.Port) { Interval = TimeSpan.FromMilliseconds(10), Timeout = TimeSpan.FromSeconds(2) };
        using var stop = new CancellationTokenSource();
        var probing = probe.RunAsync(TimeSpan.FromMinutes(10), ct: stop.Token);
        await lab.MustAsync("lab", "fail", first, "--how", "cut-api");
        var sw = Stopwatch.StartNew();
        TimeSpan? fenced = null, taken = null, both = null;
        await lab.Until(() =>
        {
            var h = lab.Holders(seed, "eth0");
            if (h.Count == 2)
            {
                both ??= sw.Elapsed;
            }

            fenced ??= h.Contains(first) ? null : sw.Elapsed;
            taken ??= h.Contains(second) ? sw.Elapsed : null;
            return (fenced, taken);
        }, t => t.fenced is not null && t.taken is not null, $"{first} fenced and {second} holding the address");
        var moved = await lab.UntilAsync(() => lab.ClaimAsync(seed), c => c?.Spec.Nodes.SequenceEqual([second]) == true, $"the claim on {second}");
        var answers = await lab.AskAsync(seed, 5);
        await stop.CancelAsync();
        var result = await probing;
        var overlap = both is null ? TimeSpan.Zero : taken!.Value - fenced!.Value;
        lab.Log($"cut-api at 0: {first} fenced at {fenced!.Value.TotalMilliseconds:F0} ms, {second} took over at {taken!.Value.TotalMilliseconds:F0} ms; " +
            $"both held it for {Math.Max(0, overlap.TotalMilliseconds):F0} ms; probes: {result.Succeeded} answered, {result.Failed} failed, longest gap {result.LongestGap.TotalMilliseconds:F0} ms");

        // The cut node fenced on its peer's word before (or as) the other took over: never two
        // answering for the address longer than the agents' renew interval (the fence margin).
        Assert.True(both is null || fenced <= taken + TimeSpan.FromSeconds(lab.State.Spec.RenewSeconds),
            $"{first} still held the address {(fenced - taken)!.Value.TotalMilliseconds:F0} ms after {second} took it");
        Assert.All(answers, a => Assert.Equal(second, a));
        // Its log says why (the agent's output reaches the file through the lab, a moment later).
        await lab.Until(() => File.ReadAllText(Path.Combine(lab.Home.LogDir, $"agent-{first}.log")),
            log => log.Contains($"{second} reached the API server after this node lost it", StringComparison.Ordinal), $"{first}'s log saying why it fenced");

        // Given the API server back, it takes nothing back.
        await lab.MustAsync("lab", "heal", first);
        await lab.UntilAsync(() => LabObjects.NodeReadyAsync(lab.Client, first, CancellationToken.None), r => r, $"{first}'s agent Ready again");
        Assert.Equal([second], lab.Holders(seed, "eth0"));
        Assert.Equal(moved!.Metadata.ResourceVersion, (await lab.ClaimAsync(seed))!.Metadata.ResourceVersion);
    }

    private static async Task<DateTime?> RenewTimeAsync(LabDriver lab, string lease)
    {
        try
        {
            return (await lab.Client.CoordinationV1.ReadNamespacedLeaseAsync(lease, "extip-system")).Spec.RenewTime;
        }
        catch (Exception e) when (e is k8s.Autorest.HttpOperationException or HttpRequestException)
        {
            return null;
        }
    }
}
