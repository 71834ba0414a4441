using System.Net;
using System.Threading.Channels;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Extip.Kubernetes.Crds;
using Extip.Kubernetes.Models;
using Extip.Netlink;
using Extip.Netlink.Wire;
using Extip.Testing.Cluster;
using Extip.Testing.Time;
using k8s;
using k8s.Models;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Agent.Tests;

/// <summary>
/// The order of a pass, without root or a kernel: the agent runs against the embedded API server
/// with a recording dataplane and route sink (its seams) on a virtual clock. An address is
/// announced only once it is held; a claim that moves away is kept while the new holder takes it,
/// withdrawn after the overlap, and removed only after the withdraw delay (make-before-break on
/// the agent's side). The same on real parts (kernel, BIRD) is in <see cref="BgpScenarios"/>.
/// </summary>
public sealed class PassOrderTests
{
    private static readonly IPAddress Address = IPAddress.Parse("192.0.2.10");

    private sealed record Step(TimeSpan At, string What, IReadOnlyList<string> Addresses);

    /// <summary>What the agent did, in order, with the virtual time of each step.</summary>
    private sealed class Timeline(VirtualClock clock)
    {
        private readonly Lock _gate = new();
        private readonly List<Step> _steps = [];
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Add(string what, IEnumerable<string> addresses)
        {
            TaskCompletionSource changed;
            lock (_gate)
            {
                _steps.Add(new Step(clock.GetUtcNow() - clock.Start, what, [.. addresses.Order(StringComparer.Ordinal)]));
                changed = _changed;
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }

        public IReadOnlyList<Step> Steps
        {
            get
            {
                lock (_gate)
                {
                    return [.. _steps];
                }
            }
        }

        public Task Changed
        {
            get
            {
                lock (_gate)
                {
                    return _changed.Task;
                }
            }
        }

        public override string ToString() => string.Join('\n', Steps.Select(s => $"{s.At.TotalMilliseconds,8} ms {s.What} [{string.Join(", ", s.Addresses)}]"));
    }

    /// <summary>A node's addresses as a set: what Apply is asked to keep is there, held, at once.</summary>
    private sealed class RecordingDataplane(Timeline timeline, params DesiredAddress[] held) : IDataplane
    {
        private readonly Channel<NetlinkChange> _changes = Channel.CreateUnbounded<NetlinkChange>();
        private readonly Dictionary<IPAddress, DesiredAddress> _held = held.ToDictionary(d => d.Address);

        public ChannelReader<NetlinkChange> Changes => _changes.Reader;

        public long AnnouncementsSent => 0;

        public IPAddress? PrimaryIPv4() => IPAddress.Parse("198.51.100.1");

        public IReadOnlyList<InterfaceState> Interfaces() => [new InterfaceState("lo", true, [])];

        public IReadOnlyList<AddressEntry> Marked()
        {
            lock (_held)
            {
                return [.. _held.Values.Select(d => new AddressEntry(1, d.Address, d.PrefixLength, 0, 0, 0x65, null))];
            }
        }

        public IReadOnlyList<AddressState> Apply(IReadOnlyCollection<DesiredAddress> desired)
        {
            lock (_held)
            {
                var before = _held.Keys.ToHashSet();
                _held.Clear();
                foreach (var d in desired)
                {
                    _held[d.Address] = d;
                }

                foreach (var gone in before.Where(a => !_held.ContainsKey(a)))
                {
                    timeline.Add("removed", [gone.ToString()]);
                }

                foreach (var added in _held.Keys.Where(a => !before.Contains(a)))
                {
                    timeline.Add("added", [added.ToString()]);
                }

                timeline.Add("kept", desired.Select(d => d.Quiet ? $"{d.Address} (quiet)" : d.Address.ToString()));
                return [.. desired.Select(d => new AddressState(d, AddressState.Held, null, DateTime.UnixEpoch))];
            }
        }

        public int Extend(uint seconds) => Marked().Count;

        public int RemoveAll()
        {
            lock (_held)
            {
                var n = _held.Count;
                _held.Clear();
                return n;
            }
        }

        public string? Chain(ConnectionChains chains) => null;

        public void ReannounceLater(int linkIndex)
        {
        }

        public void Dispose() => _changes.Writer.TryComplete();
    }

    /// <summary>Records each change of the routes announced, and the first set (which makes the speaker's RIB known), even empty.</summary>
    private sealed class RecordingRoutes(Timeline timeline) : IRouteAnnouncer
    {
        private HashSet<string>? _last;

        public void Announce(IReadOnlyDictionary<Prefix, RouteAttributes> routes)
        {
            var now = routes.Keys.Select(p => p.Address.ToString()).ToHashSet(StringComparer.Ordinal);
            if (_last is null || !now.SetEquals(_last))
            {
                timeline.Add("announced", now);
                _last = now;
            }
        }
    }

    private static IpClaim Claim(string node, string name = "c1", IPAddress? address = null, string distribution = "Balance") => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new IpClaimSpecModel { Address = (address ?? Address).ToString(), PrefixLength = 32, Interface = "lo", Mode = "BGP", Distribution = distribution, Owners = ["web/a"], Nodes = [node] },
    };

    /// <summary>Agent n1 on <paramref name="clock"/>, with nothing periodic within the virtual seconds a test runs (Lease, renewal and resync an hour or half away).</summary>
    private static AgentOptions Quiet(TestEnv env, VirtualClock clock) => new()
    {
        Node = "n1",
        Namespace = env.Namespace,
        Time = clock,
        PeerPort = 0,
        LeaseDuration = TimeSpan.FromHours(1),
        RenewInterval = TimeSpan.FromMinutes(30),
        Resync = TimeSpan.FromMinutes(30),
    };

    /// <summary>
    /// Runs the clock from timer to timer (each one the agent arms after the last step) until
    /// <paramref name="done"/>, moving it only while none of the agent's requests to the API
    /// server is in flight: virtual time passes only while the agent waits on it.
    /// </summary>
    private static async Task RunUntilAsync(VirtualClock clock, Timeline timeline, InFlight http, Func<IReadOnlyList<Step>, bool> done)
    {
        using var guard = new CancellationTokenSource(VirtualClock.Guard);
        while (true)
        {
            // Taken before the check, so that a step between the two wakes the wait below.
            var changed = timeline.Changed;
            if (done(timeline.Steps))
            {
                return;
            }

            await http.IdleAsync(guard.Token);
            if (clock.EarliestDue(TimeSpan.FromSeconds(5)) is { } due)
            {
                clock.SetUtcNow(due);
            }
            else
            {
                // The agent is busy, not waiting: let it arm its next timer or take a step.
                await Task.WhenAny(changed, clock.ArmedWithinAsync(TimeSpan.FromSeconds(5))).WaitAsync(guard.Token);
            }
        }
    }

    [Fact]
    public async Task MovedAway_KeptForTheOverlap_WithdrawnFirst_RemovedAfterTheWithdrawDelay_AndAnnouncedOnlyOnceHeld()
    {
        await using var env = await EmbeddedAsync();
        var clock = new VirtualClock();
        var timeline = new Timeline(clock);
        var options = Quiet(env, clock) with
        {
            // Past the clock's 5 s horizon: the clock never runs to it, so the handover waits for
            // n2's IPNode to reach the agent by watch, however late (a 2 s timeout raced it).
            HandoverTimeout = TimeSpan.FromSeconds(30),
            HandoverOverlap = TimeSpan.FromMilliseconds(200),
            WithdrawDelay = TimeSpan.FromMilliseconds(500),
        };
        var http = new InFlight();
        await using var agent = new ExtipAgent(env.ClientThrough(http), options, env.Logs, _ => new RecordingDataplane(timeline), new RecordingRoutes(timeline));
        await agent.StartAsync();

        await env.Client.CustomObjects.CreateClusterCustomObjectAsync(Claim("n1"), ExtipApi.Group, ExtipApi.Version, IpClaim.Plural);
        await RunUntilAsync(clock, timeline, http, s => s.Any(x => x.What == "announced" && x.Addresses.Contains(Address.ToString())));

        // n2 holds it, then the claim names n2.
        await env.IpNodeAsync("n2", new IpNodeStatusModel { Addresses = [new NodeAddressStatus { Address = Address.ToString(), PrefixLength = 32, Interface = "lo", Mode = "BGP", State = NodeAddressStatus.HeldState, Since = clock.GetUtcNow().UtcDateTime }] });
        var moved = await env.Client.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpClaim.Plural, "c1");
        var claim = KubernetesJson.Deserialize<IpClaim>(((System.Text.Json.JsonElement)moved).GetRawText());
        claim.Spec.Nodes = ["n2"];
        var movedAt = clock.GetUtcNow() - clock.Start;
        await env.Client.CustomObjects.ReplaceClusterCustomObjectAsync(claim, ExtipApi.Group, ExtipApi.Version, IpClaim.Plural, "c1");
        await RunUntilAsync(clock, timeline, http, s => s.Any(x => x.What == "removed"));

        var steps = timeline.Steps;
        var log = timeline.ToString();
        int First(string what, Func<Step, bool>? also = null, int after = -1) => steps.ToList().FindIndex(after + 1, x => x.What == what && (also?.Invoke(x) ?? true));
        var added = First("added");
        var announced = First("announced", x => x.Addresses.Count == 1);
        var quiet = First("kept", x => x.Addresses.Contains($"{Address} (quiet)"));

        // After the address was announced (a first, empty set may come before the claim exists).
        var withdrawn = First("announced", x => x.Addresses.Count == 0, announced);
        var removed = First("removed");
        Assert.True(added >= 0 && added < announced, $"announced before it was held:\n{log}");
        Assert.True(announced < quiet && quiet < withdrawn && withdrawn < removed, $"not kept, withdrawn, then removed:\n{log}");

        // On the agent's clock: the overlap after the move, then the withdraw delay.
        Assert.True(steps[withdrawn].At - movedAt >= options.HandoverOverlap, $"withdrawn {steps[withdrawn].At - movedAt} after the move:\n{log}");
        Assert.True(steps[removed].At - steps[withdrawn].At >= options.WithdrawDelay, $"removed {steps[removed].At - steps[withdrawn].At} after the withdrawal:\n{log}");
        Assert.Equal(0, agent.HandoversTimedOut);
    }

    /// <summary>
    /// Fencing on the agent's clock: when the Lease cannot be renewed, the single-owner (Balance)
    /// address is withdrawn and then removed once the Lease has run out, not before; the All
    /// address stays, announced (an API server outage must not take every address off every node).
    /// </summary>
    [Fact]
    public async Task LeaseRunsOut_TheSingleOwnerAddressIsWithdrawnThenRemovedAtTheLeasesEnd_TheAllAddressStays()
    {
        await using var env = await EmbeddedAsync();
        var clock = new VirtualClock();
        var timeline = new Timeline(clock);
        var shared = IPAddress.Parse("192.0.2.11");
        var options = Quiet(env, clock) with
        {
            LeaseDuration = TimeSpan.FromSeconds(4),
            RenewInterval = TimeSpan.FromSeconds(1),
        };
        var http = new InFlight();
        await using var agent = new ExtipAgent(env.ClientThrough(http), options, env.Logs, _ => new RecordingDataplane(timeline), new RecordingRoutes(timeline));
        await agent.StartAsync();
        await env.Client.CustomObjects.CreateClusterCustomObjectAsync(Claim("n1"), ExtipApi.Group, ExtipApi.Version, IpClaim.Plural);
        await env.Client.CustomObjects.CreateClusterCustomObjectAsync(Claim("n1", "c2", shared, "All"), ExtipApi.Group, ExtipApi.Version, IpClaim.Plural);
        await RunUntilAsync(clock, timeline, http, s => s.Any(x => x.What == "announced" && x.Addresses.Count == 2));

        // From now on every renewal fails, whatever request it makes (a Lease not yet created is
        // created, not updated: failing only updates let such a renewal through after the fence,
        // and the agent was no longer fenced in one CI run). The Lease is valid until the last
        // renewal that got through, plus its duration.
        env.Server!.Faults.FailNext(int.MaxValue, 503, resource: "leases");
        var validUntil = agent.LeaseValidUntil;
        await RunUntilAsync(clock, timeline, http, s => s.Any(x => x.What == "removed"));

        var steps = timeline.Steps;
        var log = timeline.ToString();
        var removed = steps.ToList().FindIndex(x => x.What == "removed");
        var withdrawn = steps.ToList().FindIndex(x => x.What == "announced" && x.Addresses.SequenceEqual([shared.ToString()]));
        Assert.Equal([Address.ToString()], steps[removed].Addresses);
        Assert.True(withdrawn >= 0 && withdrawn < removed, $"not withdrawn before it was removed:\n{log}");
        Assert.True(clock.Start + steps[removed].At >= new DateTimeOffset(validUntil, TimeSpan.Zero), $"removed before the Lease ran out at {validUntil:HH:mm:ss.fff}:\n{log}");
        Assert.True(agent.Fenced);
        Assert.DoesNotContain(steps, x => x.What == "removed" && x.Addresses.Contains(shared.ToString()));
        Assert.Equal([shared.ToString()], steps.Last(x => x.What == "announced").Addresses);
    }

    /// <summary>
    /// A restarted agent (its address still on the node, its claim unchanged) hands the speaker the
    /// held address as its first set of routes, never an empty one first: the first set makes the
    /// RIB known and sends End-of-RIB, and a router keeping the last life's routes through graceful
    /// restart drops them all at an empty End-of-RIB (BgpScenarios saw n1 leave the router's route
    /// for a moment in one CI run).
    /// </summary>
    [Fact]
    public async Task Restarted_TheFirstRoutesAnnouncedAreWhatTheNodeHolds_NeverAnEmptySetFirst()
    {
        await using var env = await EmbeddedAsync();
        await env.Client.CustomObjects.CreateClusterCustomObjectAsync(Claim("n1"), ExtipApi.Group, ExtipApi.Version, IpClaim.Plural);
        var clock = new VirtualClock();
        var timeline = new Timeline(clock);
        var options = Quiet(env, clock);
        var http = new InFlight();
        var left = new DesiredAddress(Address, 32, "lo", Extip.Core.Pools.AnnounceMode.BGP, "c1");
        await using var agent = new ExtipAgent(env.ClientThrough(http), options, env.Logs, _ => new RecordingDataplane(timeline, left), new RecordingRoutes(timeline));
        await agent.StartAsync();
        await RunUntilAsync(clock, timeline, http, s => s.Any(x => x.What == "announced" && x.Addresses.Contains(Address.ToString())));

        var log = timeline.ToString();
        var first = timeline.Steps.First(x => x.What == "announced");
        Assert.True(first.Addresses.SequenceEqual([Address.ToString()]), $"the first routes announced were [{string.Join(", ", first.Addresses)}]:\n{log}");
        Assert.DoesNotContain(timeline.Steps, x => x.What is "removed" or "added");
    }
}
