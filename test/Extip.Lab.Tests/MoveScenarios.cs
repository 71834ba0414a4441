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

    /// <summary>
    /// A connection open across a planned move survives it: the new holder sends its segments on
    /// to the old one (nftables, by conntrack), which keeps the address for the withdraw delay (30 s
    /// here: the window in which the test talks over the old connection); in L2 the old holder
    /// stops answering ARP for it meanwhile, so the segment stays with the new holder. The same
    /// test with the agents' chaining off is expected to see the connection reset.
    /// </summary>
    [Theory]
    [InlineData("bgp", true)]
    [InlineData("bgp", false)]
    [InlineData("l2", true)]
    [InlineData("l2", false)]
    public async Task ConnectionOpenAcrossAPlannedMove_ServedToTheEndByTheOldHolder(string mode, bool chain)
    {
        const int port = 8081;
        await using var lab = new LabDriver(output);
        await lab.MustAsync(["lab", "up", "--nodes", "3", "--agents", "3", "--mode", mode, "--distribution", "balance", "--withdraw-delay", "30", .. (string[])(chain ? [] : ["--no-chain"])]);
        await LabObjects.CreateSeedServiceAsync(lab.Client, lab.State.Spec, CancellationToken.None);
        var bgp = mode == "bgp";
        var iface = bgp ? "lo" : "eth0";
        var holder = bgp
            ? (await lab.Until(() => lab.RoutedTo(Seed), r => r.Count == 1, $"the router routing {Seed}"))[0]
            : (await lab.Until(() => lab.Holders(Seed, iface), h => h.Count == 1, $"{Seed} on one node"))[0];
        await lab.UntilAsync(() => lab.AskAsync(Seed, 1), a => a[0] == holder, $"the client reaching {Seed} on {holder}");

        // An echo server on every node, answering with its node's name.
        var servers = lab.State.Nodes.Select(n => EchoServer.Start(n.Netns, n.Name, port)).ToList();
        try
        {
            using var client = Extip.Netlink.NetNs.Run(lab.State.Client, () => new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp));
            client.ReceiveTimeout = 30_000;
            await client.ConnectAsync(new IPEndPoint(Seed, port));
            Assert.Equal($"{holder}:one", EchoServer.Ask(client, "one"));

            // The holder labelled out: the address moves, the router's route (BGP) or the
            // neighbours' entry (L2) with it: a new connection reaches the new holder.
            await lab.Client.CoreV1.PatchNodeAsync(Label("\"true\""), holder);
            var next = bgp
                ? (await lab.Until(() => lab.RoutedTo(Seed), r => r.Count == 1 && r[0] != holder, $"the router routing {Seed} away from {holder}"))[0]
                : (await lab.UntilAsync(() => lab.AskAsync(Seed, 1), a => a[0] is not null && a[0] != holder, $"a new connection to {Seed} answered by another node than {holder}"))[0]!;
            Assert.Contains(holder, lab.Holders(Seed, iface));

            // The old connection's next segment reaches the new holder, which never saw it start.
            string? answer;
            try
            {
                answer = EchoServer.Ask(client, "two");
            }
            catch (System.Net.Sockets.SocketException e)
            {
                answer = $"{e.SocketErrorCode}";
            }

            lab.Log($"chain {chain}: {holder} -> {next}; the old connection got \"{answer}\"");
            if (chain)
            {
                Assert.Equal($"{holder}:two", answer);
                Assert.Equal([next], (await lab.AskAsync(Seed, 1)).Select(a => a ?? "none"));
            }
            else
            {
                Assert.NotEqual($"{holder}:two", answer);
            }
        }
        finally
        {
            foreach (var server in servers)
            {
                server.Dispose();
            }
        }
    }

    /// <summary>A line echo server in a node's namespace: each line comes back as "node:line".</summary>
    private sealed class EchoServer : IDisposable
    {
        private readonly System.Net.Sockets.Socket _listener;
        private readonly string _node;

        private EchoServer(System.Net.Sockets.Socket listener, string node)
        {
            _listener = listener;
            _node = node;
            _ = Task.Run(AcceptAsync);
        }

        public static EchoServer Start(string netns, string node, int port)
        {
            var l = Extip.Netlink.NetNs.Run(netns, () => new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp));
            l.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Socket, System.Net.Sockets.SocketOptionName.ReuseAddress, true);
            l.Bind(new IPEndPoint(IPAddress.Any, port));
            l.Listen(16);
            return new EchoServer(l, node);
        }

        /// <summary>Sends a line, reads the answer line.</summary>
        public static string Ask(System.Net.Sockets.Socket s, string line)
        {
            s.Send(System.Text.Encoding.ASCII.GetBytes(line + "\n"));
            var buffer = new byte[256];
            var got = 0;
            while (got == 0 || buffer[got - 1] != (byte)'\n')
            {
                var n = s.Receive(buffer, got, buffer.Length - got, System.Net.Sockets.SocketFlags.None);
                if (n == 0)
                {
                    return "closed";
                }

                got += n;
            }

            return System.Text.Encoding.ASCII.GetString(buffer, 0, got).Trim();
        }

        public void Dispose() => _listener.Dispose();

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var c = await _listener.AcceptAsync();
                    _ = Task.Run(async () =>
                    {
                        using (c)
                        {
                            var buffer = new byte[256];
                            int n;
                            try
                            {
                                while ((n = await c.ReceiveAsync(buffer)) > 0)
                                {
                                    var line = System.Text.Encoding.ASCII.GetString(buffer, 0, n).Trim();
                                    await c.SendAsync(System.Text.Encoding.ASCII.GetBytes($"{_node}:{line}\n"));
                                }
                            }
                            catch (System.Net.Sockets.SocketException)
                            {
                            }
                        }
                    });
                }
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
