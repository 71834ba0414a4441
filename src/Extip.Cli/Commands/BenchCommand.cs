using System.CommandLine;
using Extip.Cli.Bench;

namespace Extip.Cli.Commands;

/// <summary><c>extip bench …</c>: each prints one JSON line as its last line.</summary>
internal static class BenchCommand
{
    public static Command Build()
    {
        var bench = new Command("bench", "Measures extip; each benchmark prints one JSON object as its last line.");

        var services = new Option<int>("--services") { Description = "Services to allocate.", DefaultValueFactory = _ => 100_000 };
        var v4Prefix = new Option<int>("--v4-prefix") { Description = "Prefix length of the IPv4 pool (16 = /16, 8 = /8).", DefaultValueFactory = _ => 16 };
        var v6Prefix = new Option<int>("--v6-prefix") { Description = "Prefix length of the IPv6 pool.", DefaultValueFactory = _ => 112 };
        var alloc = new Command("alloc", "Allocates N Services (single- and dual-stack) across an IPv4 and an IPv6 pool.") { services, v4Prefix, v6Prefix };
        alloc.SetAction(r => AllocBench.Run(r.GetValue(services), r.GetValue(v4Prefix), r.GetValue(v6Prefix), Console.Out));
        bench.Subcommands.Add(alloc);

        var objects = new Option<int>("--objects") { Description = "Services to create.", DefaultValueFactory = _ => 20_000 };
        var watchers = new Option<int>("--watchers") { Description = "Watch streams following the namespace.", DefaultValueFactory = _ => 100 };
        var inFlight = new Option<int>("--in-flight") { Description = "Create requests in flight at once.", DefaultValueFactory = _ => 8 };
        var noReal = new Option<bool>("--no-real") { Description = "Skip the same load against kube-apiserver v1.20 (tools/real-apiserver)." };
        var api = new Command("apiserver", "Creates N Services through KubernetesClient while W watchers follow, then deletes them; reports creates/s, watch delivery p99, the server's peak RSS and RSS after the deletes, for extip's server and kube-apiserver v1.20 in the same run.") { objects, watchers, inFlight, noReal };
        api.SetAction((r, ct) => ApiServerBench.RunAsync(r.GetValue(objects), r.GetValue(watchers), r.GetValue(inFlight), !r.GetValue(noReal), Console.Out, ct));
        bench.Subcommands.Add(api);

        var ctlServices = new Option<int>("--services") { Description = "LoadBalancer Services to create.", DefaultValueFactory = _ => 10_000 };
        var agents = new Option<int>("--agents") { Description = "Simulated live agents (nodes).", DefaultValueFactory = _ => 10 };
        var ctlInFlight = new Option<int>("--in-flight") { Description = "Create requests in flight at once.", DefaultValueFactory = _ => 8 };
        var ctl = new Command("controller", "Embedded API server and controller as processes, simulated agents; time until N Services are all assigned, and failover after a Lease expires.") { ctlServices, agents, ctlInFlight };
        ctl.SetAction((r, ct) => ControllerBench.RunAsync(r.GetValue(ctlServices), r.GetValue(agents), r.GetValue(ctlInFlight), Console.Out, ct));
        bench.Subcommands.Add(ctl);

        var fpServices = new Option<int>("--services") { Description = "Services the controller allocates for its second figure.", DefaultValueFactory = _ => 10_000 };
        var fpClaims = new Option<int>("--claims") { Description = "Claims the agent's node holds over its life (in rounds, each created then deleted).", DefaultValueFactory = _ => 1_000 };
        var fpRounds = new Option<int>("--rounds") { Description = "Rounds of that life.", DefaultValueFactory = _ => 4 };
        var fpPrebuilt = new Option<bool>("--prebuilt") { Description = "Measure the image scripts/build-image.sh built last (.build/image/build.json) instead of building it again." };
        var fpEnv = new Option<string[]>("--daemon-env") { Description = "NAME=VALUE added to the controller's and the agent's environment (a GC setting, say); repeatable.", AllowMultipleArgumentsPerToken = false };
        var footprint = new Command("footprint", "Builds the image and runs its binary as the controller and as an agent against the embedded API server: image size, time to Ready, resident memory idle, after the agent's life of claims, and with N Services; needs root.") { fpServices, fpClaims, fpRounds, fpPrebuilt, fpEnv };
        footprint.SetAction((r, ct) => FootprintBench.RunAsync(r.GetValue(fpServices), r.GetValue(fpClaims), r.GetValue(fpRounds), r.GetValue(fpPrebuilt), DaemonEnv(r.GetValue(fpEnv) ?? []), Console.Out, ct));
        bench.Subcommands.Add(footprint);

        var nlAddresses = new Option<int>("--addresses") { Description = "Addresses to add and then remove.", DefaultValueFactory = _ => 10_000 };
        var nl = new Command("netlink", "Adds then removes N addresses in a fresh namespace with extip's netlink client and with `ip -batch`; needs root.") { nlAddresses };
        nl.SetAction(r => NetlinkBench.Run(r.GetValue(nlAddresses), Console.Out));
        bench.Subcommands.Add(nl);

        var bgpPrefixes = new Option<int>("--prefixes") { Description = "Host routes to announce (/32s of 198.18.0.0/15).", DefaultValueFactory = _ => 100_000 };
        var bgpPeer = new Option<string>("--peer") { Description = "The receiving router (bird).", DefaultValueFactory = _ => "bird" };
        var bgp = new Command("bgp", "N routes from extip's speaker to BIRD and, in the same run, from gobgpd to an identical BIRD, each timed from Established until BIRD holds all N; needs root.") { bgpPrefixes, bgpPeer };
        bgp.SetAction((r, ct) => BgpBench.RunAsync(r.GetValue(bgpPrefixes), r.GetValue(bgpPeer)!, Console.Out, ct));
        bench.Subcommands.Add(bgp);

        var foMode = new Option<string>("--mode") { Description = "bgp (ECMP with BFD; the peer: BFD off, hold time 3 s) or l2 (Balance; the peer: keepalived).", DefaultValueFactory = _ => "bgp" };
        foMode.AcceptOnlyFromAmong("bgp", "l2");
        var foRuns = new Option<int>("--runs") { Description = "Runs of each phase; the figures are medians.", DefaultValueFactory = _ => 5 };
        var foInterval = new Option<double>("--interval-ms") { Description = "The prober sends a request every this many ms.", DefaultValueFactory = _ => 1 };
        var foPlot = new Option<string?>("--plot") { Description = "Also draw the prober's timeline around each failure (first run) to this SVG file." };
        var foApi = new Option<double?>("--api-outage") { Description = "Instead: freeze the API server for this many seconds and count failed requests, addresses removed and claim moves after (BGP: All and Balance; L2: Balance)." };
        var failover = new Command("failover", "In a lab of its own, a client probes the address every millisecond while the serving node dies (freeze), its agent is killed, then stopped; the same against the peer; needs root.") { foMode, foRuns, foInterval, foPlot, foApi };
        failover.SetAction((r, ct) => r.GetValue(foApi) is { } outage
            ? ApiOutageBench.RunAsync(r.GetValue(foMode)!, outage, Console.Out, ct)
            : FailoverBench.RunAsync(r.GetValue(foMode)!, r.GetValue(foRuns), r.GetValue(foInterval), r.GetValue(foPlot), Console.Out, ct));
        bench.Subcommands.Add(failover);

        var flSeconds = new Option<double>("--seconds") { Description = "How long the chaos lasts.", DefaultValueFactory = _ => 120 };
        var flSeed = new Option<int>("--seed") { Description = "The chaos's random seed (which agent fails how, and when).", DefaultValueFactory = _ => 1 };
        var flHold = new Option<double?>("--hold-down") { Description = "The controller's --hold-down (0: damping off); default: its own default." };
        var flaps = new Command("flaps", "In a lab of its own (5 nodes, agents on 3, an L2 and a lo Balance pool and an All pool, 32 Services), agents are killed, stopped and hung at random; counts claim moves, split-brain episodes, and after the heal, pool imbalance and kernel/claim mismatches; needs root.") { flSeconds, flSeed, flHold };
        flaps.SetAction((r, ct) => FlapsBench.RunAsync(r.GetValue(flSeconds), r.GetValue(flSeed), r.GetValue(flHold), Console.Out, ct));
        bench.Subcommands.Add(flaps);

        var mvMode = new Option<string>("--mode") { Description = "bgp or l2.", DefaultValueFactory = _ => "bgp" };
        mvMode.AcceptOnlyFromAmong("bgp", "l2");
        var mvMoves = new Option<int>("--moves") { Description = "Planned moves of the probed address to make.", DefaultValueFactory = _ => 20 };
        var mvInterval = new Option<double>("--interval-ms") { Description = "The prober sends a request every this many ms.", DefaultValueFactory = _ => 2 };
        var mvBefore = new Option<bool>("--no-handover") { Description = "The agents hand nothing over (break-before-make, as before make-before-break), for comparison." };
        var mvNoChain = new Option<bool>("--no-chain") { Description = "The agents chain no connections to the node handing an address over (connections open at the switch are reset), for comparison." };
        var movesCmd = new Command("moves", "In a lab of its own (3 nodes with agents), a client probes the seed address while extip moves it (its node stopped and started, or labelled out and back) and while every agent is restarted one by one; counts failed requests; needs root.") { mvMode, mvMoves, mvInterval, mvBefore, mvNoChain };
        movesCmd.SetAction((r, ct) => MovesBench.RunAsync(r.GetValue(mvMode)!, r.GetValue(mvMoves), r.GetValue(mvInterval), r.GetValue(mvBefore), Console.Out, ct, r.GetValue(mvNoChain)));
        bench.Subcommands.Add(movesCmd);

        var cvRuns = new Option<int>("--runs") { Description = "New Services, one after the other.", DefaultValueFactory = _ => 20 };
        var converge = new Command("converge", "In a lab of its own, from sending a new Service until the client's first answer from its address; needs root.") { cvRuns };
        converge.SetAction((r, ct) => ConvergeBench.RunAsync(r.GetValue(cvRuns), Console.Out, ct));
        bench.Subcommands.Add(converge);

        var bfdLoad = new Option<bool>("--load") { Description = "Make the machine busy meanwhile: a spinning process per core, and extip's side niced." };
        var bfdSeconds = new Option<double>("--seconds") { Description = "How long each rate (50 ms and 100 ms x 3) is left alone.", DefaultValueFactory = _ => 300 };
        var bfdNodes = new Option<int>("--nodes") { Description = "Nodes, one BFD session each.", DefaultValueFactory = _ => 4 };
        var bfdHogs = new Option<int>("--hogs") { Description = "Spinning processes with --load.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var bfdNice = new Option<int>("--nice") { Description = "Nice value of extip's side with --load.", DefaultValueFactory = _ => 19 };
        var bfdSilences = new Option<int>("--silences") { Description = "Times the router goes silent at 50 ms x 3 to time detection.", DefaultValueFactory = _ => 5 };
        var bfdNoRt = new Option<bool>("--no-realtime") { Description = "Keep extip's BFD threads in the normal scheduling class (to see what the real-time class buys)." };
        var bfdInProcess = new Option<bool>("--in-process") { Description = "Send the periodic packets from this process's timer threads, not from transmit workers (as the agent does)." };
        var bfd = new Command("bfd", "FRR's bfdd as the router and extip's BFD on N nodes, left alone at 50 and 100 ms x 3 (every Down is a false one), then the router goes silent; needs root.") { bfdLoad, bfdSeconds, bfdNodes, bfdHogs, bfdNice, bfdSilences, bfdNoRt, bfdInProcess };
        bfd.SetAction((r, ct) => BfdBench.RunAsync(r.GetValue(bfdLoad), !r.GetValue(bfdNoRt), r.GetValue(bfdInProcess), r.GetValue(bfdSeconds), r.GetValue(bfdNodes), r.GetValue(bfdHogs), r.GetValue(bfdNice), r.GetValue(bfdSilences), Console.Out, ct));
        bench.Subcommands.Add(bfd);

        return bench;
    }

    private static Dictionary<string, string> DaemonEnv(string[] pairs) => pairs.ToDictionary(
        p => p.Contains('=', StringComparison.Ordinal) ? p[..p.IndexOf('=', StringComparison.Ordinal)] : throw new ArgumentException($"--daemon-env \"{p}\": expected NAME=VALUE"),
        p => p[(p.IndexOf('=', StringComparison.Ordinal) + 1)..],
        StringComparer.Ordinal);
}
