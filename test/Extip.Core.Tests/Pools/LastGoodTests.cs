using CsCheck;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;
using Extip.Core.Selectors;

namespace Extip.Core.Tests.Pools;

/// <summary>Issue 11, last good configuration: an invalid edit keeps the last valid spec in service.</summary>
public class LastGoodTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static IpPoolSpec Spec(string name, int age, params string[] addresses) =>
        new() { Name = name, Addresses = addresses, CreatedAt = T0.AddHours(age) };

    private static PoolEntry Entry(IpPoolSpec current, long generation, IpPoolSpec? last = null, long lastGeneration = 0) =>
        new(new PoolVersion(current, generation), last is null ? null : new PoolVersion(last, lastGeneration));

    [Fact]
    public void InvalidEdit_WithLastValid_ServesIt_AndSaysSo()
    {
        var good = Spec("p", 0, "192.0.2.0/28");
        var set = PoolSet.Build([Entry(good with { Addresses = ["192.0.2.0/33"] }, 3, good, 2)]);
        var pool = Assert.Single(set.Pools);
        Assert.Equal(["192.0.2.0/28"], pool.Spec.Addresses);
        Assert.Equal(2, set.Serving["p"].Generation);
        var problem = Assert.Single(set.Problems);
        Assert.Equal((PoolCondition.Invalid, false), (problem.Condition, problem.Disabled));
        Assert.Equal("spec.addresses[0]: \"192.0.2.0/33\": prefix length 33 is out of range 0-32 for IPv4; serving the last valid spec (generation 2)", problem.Message);
    }

    [Fact]
    public void InvalidPool_WithoutLastValid_IsNotUsed()
    {
        var set = PoolSet.Build([Entry(Spec("p", 0, "bogus"), 1)]);
        Assert.Empty(set.Pools);
        Assert.True(Assert.Single(set.Problems).Disabled);
    }

    [Fact]
    public void MappingError_UnknownOperator_IsInvalid_NeverIn()
    {
        var spec = Spec("p", 0, "192.0.2.0/28") with { Errors = ["spec.serviceAllocation.namespaceSelector.matchExpressions[0].operator: \"Notin\" is not one of In, NotIn, Exists, DoesNotExist"] };
        var set = PoolSet.Build([spec]);
        Assert.Empty(set.Pools);
        Assert.Contains("\"Notin\" is not one of", Assert.Single(set.Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OlderPoolEditedIntoAYoungerOnesAddresses_KeepsItsLastValidSpec_AndTheYoungerKeepsServing()
    {
        var oldGood = Spec("old", 0, "192.0.2.0/28");
        var young = Spec("young", 1, "198.51.100.0/28");
        var set = PoolSet.Build([
            Entry(oldGood with { Addresses = ["192.0.2.0/28", "198.51.100.0/24"] }, 2, oldGood, 1),
            Entry(young, 1, young, 1),
        ]);
        Assert.Equal(["old", "young"], set.Pools.Select(p => p.Name).Order());
        Assert.Equal(["192.0.2.0/28"], set.ByName["old"].Spec.Addresses);
        var problem = Assert.Single(set.Problems, p => p.Pool == "old");
        Assert.Equal((PoolCondition.Overlap, false), (problem.Condition, problem.Disabled));
        Assert.Equal("spec.addresses: 198.51.100.0/24 overlaps 198.51.100.0/28 of pool \"young\"; serving the last valid spec (generation 1)", problem.Message);
    }

    [Fact]
    public void NewPoolOverlappingOneInService_IsNotUsed_NamingIt()
    {
        var live = Spec("live", 1, "192.0.2.0/28");
        var set = PoolSet.Build([Entry(live, 1, live, 1), Entry(Spec("new", 0, "192.0.2.8/29"), 1)]);
        Assert.Equal(["live"], set.Pools.Select(p => p.Name));
        Assert.Equal("spec.addresses: 192.0.2.8/29 overlaps 192.0.2.0/28 of pool \"live\"; pool \"live\" serves them already, so this pool is not used",
            Assert.Single(set.Problems, p => p.Pool == "new").Message);
    }

    // A controller in miniature: pools with their last valid versions, as PoolLastGood keeps them.
    private sealed class World
    {
        private readonly Dictionary<string, (IpPoolSpec Spec, long Gen)> _current = new(StringComparer.Ordinal);
        private readonly Dictionary<string, PoolVersion> _last = new(StringComparer.Ordinal);

        public Allocator Alloc { get; } = new(new AllocatorOptions { StickyGrace = TimeSpan.Zero, ExternalIPs = ExternalIpPolicy.Pools });

        public Dictionary<ServiceKey, ServiceRequest> Services { get; } = [];

        public void Set(IpPoolSpec spec) =>
            _current[spec.Name] = (spec, _current.TryGetValue(spec.Name, out var c) ? c.Gen + 1 : 1);

        public PoolSet Load()
        {
            var set = PoolSet.Build(_current.Values.Select(c => new PoolEntry(new PoolVersion(c.Spec, c.Gen), _last.GetValueOrDefault(c.Spec.Name))));
            foreach (var name in _current.Keys)
            {
                if (!set.Serving.TryGetValue(name, out var v))
                {
                    _last.Remove(name);
                }
                else if (v.Generation == _current[name].Gen)
                {
                    _last[name] = v;
                }
            }

            Alloc.SetPools(set);
            foreach (var r in Services.Values.OrderBy(r => r.Key.Name, StringComparer.Ordinal))
            {
                Alloc.Assign(r);
            }

            return set;
        }

        public Dictionary<ServiceKey, string> Addresses() =>
            Services.Keys.ToDictionary(k => k, k => string.Join(",", Alloc.LoadBalancerOf(k).Concat(Alloc.ExternalOf(k)).Select(a => a.Address)));
    }

    private static readonly string[][] ValidAddresses =
    [
        ["192.0.2.0/28"], ["192.0.2.0/27"], ["192.0.2.16/28", "2001:db8::/126"],
        ["198.51.100.0/28"], ["198.51.100.8/29"], ["203.0.113.0/28"], ["203.0.113.4-203.0.113.40"],
    ];

    private static readonly Func<IpPoolSpec, IpPoolSpec>[] InvalidEdits =
    [
        s => s with { Addresses = ["192.0.2.0/33"] },
        s => s with { Addresses = ["192.0.2.20-192.0.2.10"] },
        s => s with { Addresses = [] },
        s => s with { Addresses = ["127.0.0.1", "0.0.0.0/8"] },
        s => s with { PrefixLength = 40 },
        s => s with { Announce = new AnnounceSpec { Communities = ["1:2:3:4"] } },
        s => s with { Errors = ["spec.announce.mode: \"bgp\" is not one of BGP, L2, Local"] },
        s => s with { ServiceAllocation = new ServiceAllocationSpec { NamespaceSelector = new LabelSelector { MatchExpressions = [new SelectorRequirement("", SelectorOperator.In, [])] } } },
    ];

    /// <summary>Kind 0: valid edit, 1: invalid edit, 2: add a Service, 3: delete one.</summary>
    public sealed record Op(int Kind, int Pool, int Choice, int Svc);

    [Fact]
    public void Property_InvalidEdits_NeverMoveAnAddress_AndNoAddressIsReserved()
    {
        var genOp = Gen.Select(Gen.Int[0, 3], Gen.Int[0, 2], Gen.Int[0, 20], Gen.Int[0, 9], (k, p, c, s) => new Op(k, p, c, s));
        Gen.Select(Gen.Int[0, ValidAddresses.Length - 1].Array[3], genOp.Array[1, 40]).Sample((initial, ops) =>
        {
            var w = new World();
            for (var i = 0; i < 3; i++)
            {
                w.Set(Spec($"p{i}", i, ValidAddresses[initial[i]]) with { AllowExternalIPs = i == 2 });
            }

            w.Load();
            foreach (var op in ops)
            {
                var name = $"p{op.Pool}";
                var key = new ServiceKey(op.Svc % 2 == 0 ? "a" : "b", $"s{op.Svc}");
                var before = w.Addresses();
                switch (op.Kind)
                {
                    case 0:
                        w.Set(Spec(name, op.Pool, ValidAddresses[op.Choice % ValidAddresses.Length]) with { AllowExternalIPs = op.Pool == 2 });
                        w.Load();
                        break;
                    case 1:
                        w.Set(InvalidEdits[op.Choice % InvalidEdits.Length](Spec(name, op.Pool, ValidAddresses[op.Choice % ValidAddresses.Length])));
                        var problems = w.Load().Problems;

                        // Every Service keeps every address it had (one that was still waiting for a
                        // requested address may get it now: a retry, not a move).
                        var after = w.Addresses();
                        foreach (var (k, had) in before.Where(b => b.Value.Length > 0))
                        {
                            Assert.True(had.Split(',').All(a => after[k].Split(',').Contains(a)), $"{k}: {had} became {after[k]}; {string.Join(" | ", problems)}");
                        }
                        break;
                    case 2:
                        w.Services[key] = new ServiceRequest
                        {
                            Key = key,
                            Ports = [new("TCP", 80)],
                            Families = op.Choice % 3 == 0 ? [IpFamily.IPv6] : [IpFamily.IPv4],
                            ExternalIPs = op.Choice % 4 == 0 ? [$"203.0.113.{op.Choice}"] : [],
                        };
                        w.Load();
                        break;
                    default:
                        w.Services.Remove(key);
                        w.Alloc.Release(key);
                        w.Load();
                        break;
                }

                Assert.All(w.Alloc.Held(), h => Assert.Null(ReservedAddresses.Of(h.Address)));
            }
        }, iter: 300);
    }
}
