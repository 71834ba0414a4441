using System.Net;
using Extip.Cli.Lab;
using Extip.Lab;
using Extip.Netlink;
using k8s;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>
/// `extip lab` end to end, as a user runs it: the seed's story, Balance, allocation from a pool,
/// Service deletion, broken nodes and controllers, every router, IPv6 and the real kube-apiserver.
/// </summary>
public sealed class LabScenarios(ITestOutputHelper output)
{
    private static readonly IPAddress Seed = LabObjects.SeedV4;

    [Fact]
    public async Task Demo_Seed_AddressOnLoOfExactlyTheAgents_EcmpRoute_BothNodesAnswer_PoolServiceAllocated_DeleteRemovesEverywhere()
    {
        await using var lab = new LabDriver(output);
        var text = await lab.MustAsync("lab");
        Assert.Contains("from the command to the 20 answers", text, StringComparison.Ordinal);
        Assert.Contains("export KUBECONFIG=", text, StringComparison.Ordinal);
        Assert.Equal(11, lab.State.Nodes.Count);

        // The seed: 203.0.113.1/32 on lo of exactly the two agents' nodes, the router's ECMP route to both.
        Assert.Equal(["k8s1", "k8s2"], lab.Holders(Seed, "lo"));
        Assert.Equal(["k8s1", "k8s2"], lab.RoutedTo(Seed));
        var answers = await lab.AskAsync(Seed, 40);
        Assert.All(answers, a => Assert.NotNull(a));
        Assert.Equal(["k8s1", "k8s2"], answers.Distinct().Order(StringComparer.Ordinal));

        // A LoadBalancer Service without an address: allocated from the pool, announced, reachable.
        await lab.LoadBalancerAsync("web");
        var web = await lab.IngressAsync("web");
        Assert.True(IPNetworkContains("203.0.113.0/24", web), $"{web} is not from the seed pool");
        await lab.Until(() => lab.RoutedTo(web), r => r.SequenceEqual(["k8s1", "k8s2"]), $"the router routing {web} to both agents");
        Assert.All(await lab.AskAsync(web, 10), a => Assert.NotNull(a));

        // Deleting it removes the address from the nodes and the route from the router.
        await lab.Client.CoreV1.DeleteNamespacedServiceAsync("web", "default");
        await lab.Until(() => lab.RoutedTo(web), r => r.Count == 0, $"the router's route to {web} gone");
        await lab.Until(() => lab.Holders(web, "lo"), h => h.Count == 0, $"{web} gone from every node");
        await lab.UntilAsync(() => lab.ClaimAsync(web), c => c is null, $"the claim for {web} gone");
        Assert.Equal(["k8s1", "k8s2"], lab.Holders(Seed, "lo"));
    }

    [Fact]
    public async Task Balance_SixServices_ThreeEach_ThirdAgentJoins_TakesItsShareWithMinimalMovement()
    {
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "3", "--agents", "2", "--distribution", "balance");
        var addresses = new List<IPAddress>();
        for (var i = 0; i < 6; i++)
        {
            await lab.LoadBalancerAsync($"svc{i}");
        }

        for (var i = 0; i < 6; i++)
        {
            addresses.Add(await lab.IngressAsync($"svc{i}"));
        }

        var before = await lab.UntilAsync(Placement, p => p.Count == 6 && p.Values.All(n => n is not null) && Spread(p) == "3/3/0", "six claims spread 3/3");
        foreach (var a in addresses)
        {
            var holder = before[a.ToString()]!;
            await lab.Until(() => lab.RoutedTo(a), r => r.SequenceEqual([holder]), $"the router routing {a} to {holder} only");
        }

        await lab.MustAsync("lab", "heal", "k8s3"); // starts an agent on k8s3
        var after = await lab.UntilAsync(Placement, p => p.Count == 6 && Spread(p) == "2/2/2", "the six claims spread 2/2/2 with k8s3");
        var moved = before.Where(kv => after[kv.Key] != kv.Value).ToList();
        Assert.Equal(2, moved.Count);
        Assert.All(moved, kv => Assert.Equal("k8s3", after[kv.Key]));
        foreach (var a in addresses)
        {
            var holder = after[a.ToString()]!;
            await lab.Until(() => lab.RoutedTo(a), r => r.SequenceEqual([holder]), $"the router routing {a} to {holder} only");
            Assert.All(await lab.AskAsync(a, 3), n => Assert.Equal(holder, n));
        }

        async Task<Dictionary<string, string?>> Placement() =>
            (await lab.ClaimsAsync()).ToDictionary(c => c.Spec.Address, c => c.Spec.Nodes.Count == 1 ? c.Spec.Nodes[0] : null, StringComparer.Ordinal);

        static string Spread(Dictionary<string, string?> p) =>
            string.Join('/', new[] { "k8s1", "k8s2", "k8s3" }.Select(n => p.Values.Count(v => v == n)));
    }

    [Theory]
    [InlineData("bgp", "all")]
    [InlineData("bgp", "balance")]
    [InlineData("l2", "balance")]
    public async Task Fail_FreezeKillStop_ClientRecoversEachTime_HealBringsTheNodeBack(string mode, string distribution)
    {
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "3", "--agents", "2", "--mode", mode, "--distribution", distribution);
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        var iface = mode == "l2" ? "eth0" : "lo";
        var all = distribution == "all";
        await lab.Until(() => lab.Holders(Seed, iface), h => h.Count == (all ? 2 : 1), $"{Seed} on {(all ? "both agents' nodes" : "one node")}");
        foreach (var how in new[] { "freeze", "kill", "stop" })
        {
            var victim = all ? "k8s1" : (await lab.ClaimAsync(Seed))!.Spec.Nodes.Single();
            var survivor = victim == "k8s1" ? "k8s2" : "k8s1";
            await lab.UntilAsync(() => lab.AskAsync(Seed, 1), a => a[0] is not null, "the client reaching the seed's address before the failure");
            var probe = new Prober(lab.State.Client, Seed, lab.State.Spec.Port) { Interval = TimeSpan.FromMilliseconds(5) };
            using var stop = new CancellationTokenSource();
            var probing = probe.RunAsync(TimeSpan.FromMinutes(5), ct: stop.Token);
            await lab.MustAsync("lab", "fail", victim, "--how", how);
            var failedAt = DateTime.UtcNow;

            // The survivor takes over: only it answers, several times in a row.
            await lab.UntilAsync(() => lab.AskAsync(Seed, 5), a => a.All(n => n == survivor), $"after `fail {victim} --how {how}`: only {survivor} answering");
            if (mode == "bgp")
            {
                await lab.Until(() => lab.RoutedTo(Seed), r => r.SequenceEqual([survivor]), $"the router routing {Seed} to {survivor} only");
            }

            await stop.CancelAsync();
            var seen = await probing;
            lab.Log($"{mode}/{distribution} {how} {victim}: {seen.Succeeded} ok, {seen.Failed} failed, longest gap {seen.LongestGap.TotalMilliseconds:F0} ms");
            Assert.Contains(seen.Samples, s => s.Ok && s.Node == survivor);

            await lab.MustAsync("lab", "heal", victim);
            if (all)
            {
                await lab.Until(() => lab.RoutedTo(Seed), r => r.SequenceEqual(["k8s1", "k8s2"]), $"after `heal {victim}`: the router routing {Seed} to both nodes again");
                await lab.UntilAsync(() => lab.AskAsync(Seed, 20), a => a.All(n => n is not null) && a.Contains(victim), $"after `heal {victim}`: {victim} answering again");
            }
            else
            {
                await lab.UntilAsync(() => LabObjects.NodeReadyAsync(lab.Client, victim, CancellationToken.None), r => r, $"after `heal {victim}`: its agent Ready");
                await lab.Until(() => lab.Holders(Seed, iface), h => h.Count == 1, $"{Seed} held by exactly one node after `heal {victim}`");
            }

            Assert.True(DateTime.UtcNow > failedAt);
        }
    }

    [Fact]
    public async Task KillController_ClientUnaffected_NewControllerTakesOver()
    {
        // Without BFD: what is tested is that replacing the controller costs no request. At 50 ms
        // x 3 on a starved 2-core machine, BFD sessions to the lab's router went down together
        // (both agents at once, NeighborSignaledDown: the packets waited in the machine, not in
        // extip) and the router's ECMP route lost a next hop for a moment; BFD under load has its
        // own test (BfdUnderLoadTests) and benchmark (bench bfd --load).
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "3", "--agents", "2", "--no-bfd");
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        await lab.Until(() => lab.RoutedTo(Seed), r => r.SequenceEqual(["k8s1", "k8s2"]), "the seed routed to both agents");
        var first = lab.State.ControllerPid;
        var claim = (await lab.ClaimAsync(Seed))!;
        // Every request must be answered: a generous timeout, so that a busy machine (a new
        // controller's start competes for the CPU with the nodes' responders) delays but does not fail.
        var probe = new Prober(lab.State.Client, Seed, lab.State.Spec.Port) { Interval = TimeSpan.FromMilliseconds(20), Timeout = TimeSpan.FromSeconds(15) };
        using var stop = new CancellationTokenSource();
        var probing = probe.RunAsync(TimeSpan.FromMinutes(5), ct: stop.Token);
        var routes = new List<string>();
        var watching = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                routes.Add(string.Join(',', lab.Holders(Seed, "lo")));
                await Task.Delay(20);
            }
        });
        await lab.MustAsync("lab", "fail", "controller", "--how", "kill");
        await lab.Until(() => lab.State.ControllerPid, p => p is not null && p != first, "a new controller process");

        // The new controller leads once the old one's election Lease runs out, and serves a new Service.
        await lab.LoadBalancerAsync("after");
        var after = await lab.IngressAsync("after");
        await lab.Until(() => lab.RoutedTo(after), r => r.SequenceEqual(["k8s1", "k8s2"]), $"the new Service's {after} routed to both agents");
        await stop.CancelAsync();
        var seen = await probing;
        await watching;
        // The controller changed nothing: both nodes held the address throughout, and its claim
        // was never rewritten.
        var lost = routes.Count(r => r != "k8s1,k8s2");
        Assert.True(lost == 0, $"in {lost} of {routes.Count} looks the seed's address was not on both nodes' lo ({string.Join(", ", routes.Where(r => r != "k8s1,k8s2").Distinct())})\n{lab.Logs(60)}");
        Assert.Equal(claim.Metadata.ResourceVersion, (await lab.ClaimAsync(Seed))!.Metadata.ResourceVersion);
        lab.Log($"while the controller was replaced: {seen.Succeeded} ok, {seen.Failed} failed, longest gap {seen.LongestGap.TotalMilliseconds:F0} ms");
        Assert.True(seen.Failed == 0, $"{seen.Failed} requests failed, started at {string.Join(", ", seen.Samples.Where(s => !s.Ok).Select(s => $"{s.AtMs:F0} ms"))} of the probe\n{lab.Logs(60)}");
        Assert.True(seen.Succeeded > 0);
        await lab.Until(() => lab.RoutedTo(Seed), r => r.SequenceEqual(["k8s1", "k8s2"]), "the seed routed to both agents at the end");
    }

    [Theory]
    [InlineData("--router", "frr")]
    [InlineData("--router", "gobgp")]
    [InlineData("--ipv6")]
    [InlineData("--apiserver", "real")]
    public async Task Demo_Seed_WithOtherRoutersIpv6AndTheRealApiServer(params string[] flags)
    {
        await using var lab = new LabDriver(output);
        var text = await lab.MustAsync(["lab", "demo", "--nodes", "3", .. flags]);
        Assert.Contains("from the command to the 20 answers", text, StringComparison.Ordinal);
        Assert.Equal(["k8s1", "k8s2"], lab.Holders(Seed, "lo"));
        Assert.Equal(["k8s1", "k8s2"], lab.RoutedTo(Seed));
        Assert.All(await lab.AskAsync(Seed, 20), a => Assert.NotNull(a));
        if (flags.Contains("--ipv6"))
        {
            Assert.Equal(["k8s1", "k8s2"], lab.Holders(LabObjects.SeedV6, "lo"));
            Assert.Equal(["k8s1", "k8s2"], lab.RoutedTo(LabObjects.SeedV6));
            Assert.All(await lab.AskAsync(LabObjects.SeedV6, 20), a => Assert.NotNull(a));
        }
    }

    [Fact]
    public async Task Down_AfterTheSupervisorWasKilled_SweepsEverythingItLeft()
    {
        await using var lab = new LabDriver(output);
        await lab.MustAsync("lab", "up", "--nodes", "2", "--agents", "1");
        var state = lab.State;
        Assert.True(Signals.Send(state.Pid, Signals.Kill));
        await lab.Until(() => File.Exists($"/proc/{state.Pid}/environ"), alive => !alive, "the supervisor gone");

        // Its children (agent, controller, API server, BIRD) and namespaces outlived it until the sweep.
        Assert.Contains(Site.MarkedProcesses(), p => p.Site == state.Prefix);
        var text = await lab.MustAsync("lab", "down");
        Assert.Contains("swept", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutRoot_OneClearLine_Exit1()
    {
        // The lab refuses to run unprivileged: `setpriv` drops to nobody for one command. Nobody
        // may not read the checkout (a clone in a 0700 folder), so the CLI runs from a copy of
        // its build in a folder of its own that everyone can read.
        var copy = Path.Combine(Path.GetTempPath(), $"extip-noroot-{Guid.NewGuid():N}");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(AppContext.BaseDirectory))
        {
            File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        }

        using var cleanup = new DeleteOnDispose(copy);
        var psi = new System.Diagnostics.ProcessStartInfo("setpriv") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = copy };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", Path.Combine(copy, "extip.dll"), "lab" })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["DOTNET_CLI_HOME"] = "/tmp";
        psi.Environment["HOME"] = "/tmp";
        using var p = System.Diagnostics.Process.Start(psi)!;
        var err = await p.StandardError.ReadToEndAsync();
        var outText = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        output.WriteLine(outText + err);
        Assert.Equal(1, p.ExitCode);
        Assert.Equal("extip lab demo: needs root (it creates network namespaces and runs routing daemons): sudo ./extip lab", err.Trim());
    }

    private sealed class DeleteOnDispose(string dir) : IDisposable
    {
        public void Dispose() => Directory.Delete(dir, recursive: true);
    }

    private static bool IPNetworkContains(string cidr, IPAddress a) => IPNetwork.Parse(cidr).Contains(a);
}
