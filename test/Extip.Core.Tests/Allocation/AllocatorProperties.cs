using CsCheck;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;
using static Extip.Core.Tests.Allocation.Fixtures;

namespace Extip.Core.Tests.Allocation;

/// <summary>Invariants of the allocator after any sequence of assignments and releases.</summary>
public class AllocatorProperties
{
    private static readonly IpPoolSpec[] Pools =
    [
        Pool("shared", "192.0.2.0/28", "2001:db8::/124") with { AvoidBuggyIPs = true },
        Pool("ns1-only", "198.51.100.0/29") with { ServiceAllocation = new() { Priority = 1, Namespaces = ["ns1"] } },
        Pool("ext", "203.0.113.0/29") with { AllowExternalIPs = true, AutoAssign = false },
    ];

    /// <summary>Kind: 0-5 assign, 6-7 release. Requested is an offset into a pool, or -1.</summary>
    public sealed record Op(int Kind, int Svc, int Key, int Port, int Family, int Requested, int External);

    private static readonly Gen<Op> GenOp =
        Gen.Select(Gen.Int[0, 7], Gen.Int[0, 11], Gen.Int[0, 2], Gen.Int[0, 3], Gen.Int[0, 3], Gen.Int[-6, 9], Gen.Int[-3, 3],
            (k, s, key, port, fam, req, ext) => new Op(k, s, key, port, fam, req, ext));

    private static readonly Gen<Op[]> GenOps = GenOp.Array[1, 60];

    private static ServiceRequest ToRequest(Op op)
    {
        var ns = op.Svc % 2 == 0 ? "ns0" : "ns1";
        var r = new ServiceRequest
        {
            Key = new ServiceKey(ns, $"s{op.Svc}"),
            SharingKey = op.Key == 0 ? null : $"key{op.Key}",
            Ports = [new("TCP", 80 + op.Port)],
            FamilyPolicy = op.Family switch { 2 => IpFamilyPolicy.PreferDualStack, 3 => IpFamilyPolicy.RequireDualStack, _ => IpFamilyPolicy.SingleStack },
            Families = op.Family == 1 ? [IpFamily.IPv6, IpFamily.IPv4] : [IpFamily.IPv4, IpFamily.IPv6],
        };
        if (op.Requested >= 0)
        {
            r = r with { RequestedAddresses = [$"192.0.2.{op.Requested}"] };
        }

        if (op.External > 0)
        {
            r = r with { ExternalIPs = [$"203.0.113.{op.External}"] };
        }
        else if (op.External < 0)
        {
            r = r with { ExternalIPs = [$"192.0.2.{-op.External}"] };
        }

        return r;
    }

    private static (Allocator, Dictionary<ServiceKey, ServiceRequest>) Run(Op[] ops, TimeSpan grace)
    {
        var (a, _) = New(new AllocatorOptions { StickyGrace = grace }, Pools);
        var live = new Dictionary<ServiceKey, ServiceRequest>();
        foreach (var op in ops)
        {
            var req = ToRequest(op);
            if (op.Kind >= 6)
            {
                a.Release(req.Key);
                live.Remove(req.Key);
            }
            else
            {
                a.Assign(req);
                live[req.Key] = req;
            }
        }

        return (a, live);
    }

    [Fact]
    public void NoAddressGivenTwice_UnlessSharingAllowsIt_AndEveryAddressIsInAnAllowedPool()
    {
        GenOps.Sample(ops =>
        {
            var (a, live) = Run(ops, TimeSpan.Zero);
            var set = a.Pools;
            foreach (var (address, holders) in a.HeldAddresses())
            {
                if (holders.Count > 1)
                {
                    var reqs = holders.Select(h => live[h]).ToList();
                    Assert.All(reqs, r => Assert.NotNull(r.SharingKey));
                    Assert.Single(reqs.Select(r => r.SharingKey).Distinct());
                    var ports = reqs.SelectMany(r => r.Ports).ToList();
                    Assert.Equal(ports.Count, ports.Distinct().Count());
                }
            }

            foreach (var (key, req) in live)
            {
                foreach (var lb in a.LoadBalancerOf(key))
                {
                    var pool = set.Find(lb.Address);
                    Assert.NotNull(pool);
                    Assert.True(pool.Serves(key.Namespace, req.NamespaceLabels, req.Labels), $"{lb.Address} of {key} from {pool.Name}");
                    Assert.Equal(pool.Name, lb.Pool);
                }

                foreach (var ext in a.ExternalOf(key))
                {
                    Assert.True(set.Find(ext.Address)?.Spec.AllowExternalIPs, $"external {ext.Address} of {key}");
                }
            }
        }, iter: 400);
    }

    [Fact]
    public void Release_MakesEveryUnsharedAddressReusable()
    {
        GenOps.Sample(ops =>
        {
            var (a, live) = Run(ops, TimeSpan.Zero);
            foreach (var key in live.Keys.ToList())
            {
                var held = a.LoadBalancerOf(key).Select(x => x.Address).ToList();
                a.Release(key);
                foreach (var addr in held)
                {
                    var others = a.HoldersOf(addr);
                    Assert.Equal(others.Count == 0, a.IsFree(addr));
                    if (others.Count == 0)
                    {
                        var r = a.Assign(new ServiceRequest { Key = new ServiceKey(key.Namespace, "probe"), RequestedAddresses = [addr.ToString()], Families = [addr.Family] });
                        Assert.True(r.Ok, string.Join("; ", r.Refusals));
                        a.Release(new ServiceKey(key.Namespace, "probe"));
                    }
                }
            }

            Assert.Empty(a.HeldAddresses());
            Assert.All(a.Usage(), u => Assert.Equal((0L, 0L), (u.InUseV4, u.InUseV6)));
        }, iter: 300);
    }

    [Fact]
    public void Reload_FromStatus_ReproducesTheState_AndTheNextChoice()
    {
        GenOps.Sample(ops =>
        {
            var (a, live) = Run(ops, TimeSpan.Zero);

            // A controller retries refused Services until nothing changes; the reload is compared
            // with that converged state.
            for (var pass = 0; pass < 20 && a.AssignAll(live.Values).Values.Any(r => r.Changed); pass++)
            {
            }

            var statuses = live.Values.Select(r => r with
            {
                CurrentAddresses = a.LoadBalancerOf(r.Key).Select(x => x.Address.ToString()).ToList(),
                CurrentExternalIPs = a.ExternalOf(r.Key).Select(x => x.Address.ToString()).ToList(),
            }).ToList();
            var (b, _) = New(new AllocatorOptions { StickyGrace = TimeSpan.Zero }, Pools);
            b.AssignAll(statuses.AsEnumerable().Reverse());
            foreach (var r in live.Values)
            {
                Assert.Equal(a.LoadBalancerOf(r.Key), b.LoadBalancerOf(r.Key));
                Assert.Equal(a.ExternalOf(r.Key), b.ExternalOf(r.Key));
            }

            Assert.Equal(a.Usage().OrderBy(u => u.Pool), b.Usage().OrderBy(u => u.Pool));
            var probe = new ServiceRequest { Key = new ServiceKey("ns1", "next") }.Dual(IpFamilyPolicy.PreferDualStack);
            Assert.Equal(a.Assign(probe).LoadBalancer, b.Assign(probe).LoadBalancer);
        }, iter: 400);
    }

    [Fact]
    public void Assign_IsIdempotent()
    {
        GenOps.Sample(ops =>
        {
            var (a, live) = Run(ops, TimeSpan.Zero);
            foreach (var r in live.Values)
            {
                a.Assign(r);
                var before = a.LoadBalancerOf(r.Key).ToList();
                var again = a.Assign(r);
                Assert.False(again.Changed, $"{r.Key} changed on a repeated request");
                Assert.Equal(before, again.LoadBalancer);
            }
        }, iter: 300);
    }

    [Fact]
    public void Sticky_WithinGrace_EveryReleasedServiceGetsItsAddressesBack()
    {
        // Automatic allocation only: an explicit request or a sharing key may take a kept address by design.
        GenOps.Select(ops => ops.Select(o => o with { Requested = -1, Key = 0 }).ToArray()).Sample(ops =>
        {
            var (a, live) = Run(ops, TimeSpan.FromHours(1));

            // Only Services whose request is satisfied as it stands: a refused one keeps an older address it would not get again.
            var satisfied = live.Values.Where(r => a.Assign(r).Refusals.All(x => x.Value.StartsWith("203.", StringComparison.Ordinal) || x.Reason == RefusalReason.ExternalIPNotAllowed)).ToList();
            var before = satisfied.ToDictionary(r => r.Key, r => a.LoadBalancerOf(r.Key).Where(x => a.HoldersOf(x.Address).Count == 1).ToList());
            foreach (var k in live.Keys)
            {
                a.Release(k);
            }

            foreach (var r in satisfied)
            {
                var again = a.Assign(r);
                foreach (var x in before[r.Key])
                {
                    Assert.True(again.LoadBalancer.Contains(x), $"{r.Key} lost {x}: got {string.Join(",", again.LoadBalancer)}; {string.Join("; ", again.Refusals)}");
                }
            }
        }, iter: 300);
    }
}
