using Extip.Core.Addresses;
using Extip.Core.Pools;

namespace Extip.Core.Allocation;

/// <summary>
/// Decides which addresses each Service holds. Pure and single-threaded: the controller feeds
/// it pools and Services and writes the results to the API. State is rebuilt after a restart by
/// assigning every Service that already shows addresses first (<see cref="AssignAll"/>), which
/// gives each one the addresses it had.
/// </summary>
public sealed partial class Allocator
{
    private readonly AllocatorOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, PoolState> _poolStates = new(StringComparer.Ordinal);
    private readonly Dictionary<Address, AddressEntry> _addresses = [];
    private readonly Dictionary<ServiceKey, Holding> _services = [];
    private readonly Dictionary<string, HashSet<Address>> _bySharingKey = new(StringComparer.Ordinal);
    private readonly Dictionary<ServiceKey, Reservation> _sticky = [];
    private readonly PriorityQueue<ServiceKey, DateTimeOffset> _stickyExpiry = new();
    private readonly List<Refusal> _refusals = [];
    private readonly List<Pick> _chosen = new(2);
    private PoolSet _pools = PoolSet.Empty;
    private bool _reloading;

    public Allocator(AllocatorOptions? options = null, TimeProvider? time = null)
    {
        _options = options ?? new AllocatorOptions();
        _time = time ?? TimeProvider.System;
    }

    public PoolSet Pools => _pools;

    public int ServiceCount => _services.Count;

    /// <summary>When the next address kept for a deleted Service may be freed (pool status changes then), if any.</summary>
    public DateTimeOffset? NextReservationExpiry => _stickyExpiry.TryPeek(out _, out var until) ? until : null;

    /// <summary>Replaces the pools. Held addresses stay held; those now outside every pool are given up when their Service is next assigned.</summary>
    public void SetPools(PoolSet pools)
    {
        ArgumentNullException.ThrowIfNull(pools);
        _pools = pools;
        _poolStates.Clear();
        foreach (var p in pools.Pools)
        {
            _poolStates[p.Name] = new PoolState(p);
        }

        foreach (var entry in _addresses.Values.ToList())
        {
            entry.Pool = null;
            var pool = pools.Find(entry.Address);
            if (pool is null)
            {
                if (entry.Holders.Count == 0)
                {
                    DropReservation(entry);
                }

                continue;
            }

            var ps = _poolStates[pool.Name];
            entry.Pool = ps;
            ps.Free(entry.Address.Family).TryTake(entry.Address.Value);
            ps.Count(entry.Address.Family, +1);
        }
    }

    public void SetPools(IEnumerable<IpPoolSpec> specs) => SetPools(PoolSet.Build(specs));

    /// <summary>
    /// Decides the addresses of one Service and records them. Idempotent: the same request gives
    /// the same answer with <see cref="AllocationResult.Changed"/> false. On a refusal the Service
    /// keeps what it validly held before.
    /// </summary>
    public AllocationResult Assign(ServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ExpireReservations();
        _services.TryGetValue(request.Key, out var holding);
        Name(request);
        _displace.Clear();
        var refusals = _refusals;
        refusals.Clear();
        var ext = DecideExternal(request, refusals);
        var lb = request.WantsLoadBalancer ? DecideLoadBalancer(request, holding, refusals) : NoPicks;
        var refused = refusals.Count == 0 ? [] : refusals.ToArray();
        if (lb.Count == 0 && ext.Count == 0)
        {
            _displace.Clear();
            var had = holding is not null && holding.HoldsAny;
            ReleaseInternal(request.Key, sticky: false);
            return new AllocationResult([], [], refused, had);
        }

        var changed = Commit(request, holding, lb, ext, out var committed);
        var displaced = Displace(committed);
        return new AllocationResult(committed.LoadBalancer, committed.External, refused, changed || displaced.Count > 0) { Displaced = displaced };
    }

    /// <summary>
    /// Reload first: every Service first gets back the addresses its status shows (and the
    /// external IPs it was known to hold), before any Service is given a new one, so a restart
    /// keeps every address where it was and never hands one out twice. Then each Service is
    /// assigned normally, in namespace/name order.
    /// </summary>
    public IReadOnlyDictionary<ServiceKey, AllocationResult> AssignAll(IEnumerable<ServiceRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var ordered = requests
            .OrderBy(r => r.Key.Namespace, StringComparer.Ordinal)
            .ThenBy(r => r.Key.Name, StringComparer.Ordinal)
            .ToList();
        foreach (var r in ordered)
        {
            Reload(r);
        }

        var results = new Dictionary<ServiceKey, AllocationResult>();
        var byKey = ordered.ToDictionary(r => r.Key);
        var again = new List<ServiceKey>();
        foreach (var r in ordered)
        {
            results[r.Key] = Assign(r);
            again.AddRange(results[r.Key].Displaced);
        }

        // A Service assigned before one whose explicit request took its address is assigned
        // again. Each round only takes addresses from less senior holders, so this ends.
        while (again.Count > 0)
        {
            var round = again.Distinct().Where(byKey.ContainsKey).ToList();
            again.Clear();
            foreach (var k in round)
            {
                results[k] = Assign(byKey[k]);
                again.AddRange(results[k].Displaced);
            }
        }

        return results;
    }

    /// <summary>Takes back what a Service shows it held, without allocating anything new. No-op for a Service already known.</summary>
    public void Reload(ServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_services.ContainsKey(request.Key))
        {
            return;
        }

        ExpireReservations();
        Name(request);
        var refusals = new List<Refusal>();
        var held = request with { ExternalIPs = request.ExternalIPs.Intersect(request.CurrentExternalIPs, StringComparer.Ordinal).ToList() };

        // A reload takes back what the status shows and takes nothing from anybody: who wins an
        // address is decided by the assignments that follow.
        _reloading = true;
        try
        {
            var ext = DecideExternal(held, refusals);
            var lb = request.WantsLoadBalancer ? DecideLoadBalancer(held, null, refusals, reloadOnly: true) : NoPicks;
            if (lb.Count > 0 || ext.Count > 0)
            {
                Commit(held, null, lb, ext, out _);
            }
        }
        finally
        {
            _reloading = false;
        }
    }

    /// <summary>The Service is gone or wants no address: its addresses are kept for it during the sticky grace period, then freed.</summary>
    public bool Release(ServiceKey key)
    {
        ExpireReservations();
        Unname(key);
        return ReleaseInternal(key, sticky: true);
    }

    public IReadOnlyList<Assignment> LoadBalancerOf(ServiceKey key) =>
        _services.TryGetValue(key, out var h) ? h.LoadBalancer : [];

    public IReadOnlyList<Assignment> ExternalOf(ServiceKey key) =>
        _services.TryGetValue(key, out var h) ? h.External : [];

    /// <summary>Services holding the address (more than one when shared).</summary>
    public IReadOnlyList<ServiceKey> HoldersOf(Address address) =>
        _addresses.TryGetValue(address, out var e) ? e.Holders.Keys() : [];

    public bool IsFree(Address address)
    {
        ExpireReservations();
        return !_addresses.ContainsKey(address);
    }

    public IEnumerable<ServiceKey> Services => _services.Keys;

    /// <summary>Every held address with its holders, for status and tests.</summary>
    public IReadOnlyDictionary<Address, IReadOnlyList<ServiceKey>> HeldAddresses() =>
        _addresses.Values.Where(e => e.Holders.Count > 0)
            .ToDictionary(e => e.Address, e => (IReadOnlyList<ServiceKey>)e.Holders.Keys());

    /// <summary>Every held address with its pool, interface mask and holders, in address order.</summary>
    public IReadOnlyList<HeldAddress> Held()
    {
        var list = new List<HeldAddress>();
        foreach (var e in _addresses.Values)
        {
            if (e.Holders.Count == 0)
            {
                continue;
            }

            var first = e.Holders[0];
            var assignment = Array.Find(first.LoadBalancer, x => x.Address == e.Address);
            if (assignment.Address != e.Address)
            {
                assignment = Array.Find(first.External, x => x.Address == e.Address);
            }

            list.Add(new HeldAddress(e.Address, e.Pool?.Pool.Name, assignment.PrefixLength, e.Holders.Keys()));
        }

        list.Sort((x, y) => x.Address.CompareTo(y.Address));
        return list;
    }

    /// <summary>Use of every pool: addresses held, and addresses kept for recently deleted Services (sticky) apart, so a reservation never reads as a leak.</summary>
    public IReadOnlyList<PoolUsage> Usage()
    {
        ExpireReservations();
        var reserved = Reserved();
        return _poolStates.Values.Select(ps => UsageOf(ps, reserved)).ToList();
    }

    public PoolUsage? UsageOf(string pool)
    {
        ExpireReservations();
        return _poolStates.TryGetValue(pool, out var ps) ? UsageOf(ps, Reserved()) : null;
    }

    private static PoolUsage UsageOf(PoolState ps, Dictionary<(PoolState, IpFamily), long> reserved)
    {
        var r4 = reserved.GetValueOrDefault((ps, IpFamily.IPv4));
        var r6 = reserved.GetValueOrDefault((ps, IpFamily.IPv6));
        return new PoolUsage(ps.Pool.Name, ps.Pool.CapacityV4, ps.InUseV4 - r4, ps.Pool.CapacityV6, ps.InUseV6 - r6) { ReservedV4 = r4, ReservedV6 = r6 };
    }

    /// <summary>Kept-for-a-deleted-Service addresses by pool and family: as few as the Services deleted within the grace period.</summary>
    private Dictionary<(PoolState, IpFamily), long> Reserved()
    {
        var counts = new Dictionary<(PoolState, IpFamily), long>();
        foreach (var (key, res) in _sticky)
        {
            foreach (var a in res.Addresses)
            {
                if (_addresses.TryGetValue(a, out var e) && e.ReservedFor == key && e.Holders.Count == 0 && e.Pool is { } ps)
                {
                    counts[(ps, a.Family)] = counts.GetValueOrDefault((ps, a.Family)) + 1;
                }
            }
        }

        return counts;
    }
}
