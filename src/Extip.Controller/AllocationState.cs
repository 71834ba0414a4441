using Extip.Controller.Mapping;
using Extip.Controller.Reconcilers;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;
using Extip.Kubernetes.Models;

namespace Extip.Controller;

/// <summary>
/// What the leader has handed out, behind one lock: the allocator, the pools it serves (the last
/// valid spec of each), every Service's last request, and the addresses this session ever gave.
/// Plain state with no I/O: a caller decides what a change means (a claim pass, pool status, the
/// displaced Services' reconciles).
/// </summary>
internal sealed class AllocationState(AllocatorOptions options, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Allocator _allocator = new(options, time);
    private readonly Dictionary<ServiceKey, ServiceRequest> _requests = [];
    private readonly HashSet<Address> _assigned = [];

    // Services the reload gave an address they did not show yet: their first reconcile reports
    // it (event, metric) as new, as it would have been without the restart.
    private readonly HashSet<ServiceKey> _unreported = [];
    private readonly PoolLastGood _lastGood = new();
    private PoolSet _pools = PoolSet.Empty;

    /// <summary>
    /// Rebuilds the pools from the given specs (each invalid one served at its last valid spec).
    /// Reading the cache and installing the result must not be split by another load: callers
    /// pass a function that reads the cache, called under the lock.
    /// </summary>
    public int LoadPools(Func<IEnumerable<IpPool>> read)
    {
        lock (_gate)
        {
            var items = read().ToList();
            var set = PoolSet.Build(items.Select(_lastGood.Entry));
            _lastGood.Served(items, set);
            _pools = set;
            _allocator.SetPools(set);
            return set.Pools.Count;
        }
    }

    /// <summary>Reload: every Service gets back what its status (and the claims) show, before anything new is handed out. Returns the addresses held.</summary>
    public int Reload(IReadOnlyList<ServiceRequest> requests)
    {
        lock (_gate)
        {
            var results = _allocator.AssignAll(requests);
            foreach (var r in requests)
            {
                _requests[r.Key] = r;
                if (results.TryGetValue(r.Key, out var result) && IsNew(r, result))
                {
                    _unreported.Add(r.Key);
                }
            }

            foreach (var h in _allocator.Held())
            {
                _assigned.Add(h.Address);
            }

            return _allocator.Held().Count;
        }
    }

    /// <summary>Decides the Service's addresses. <c>Changed</c> is also set on the first decision after a reload that gave it an address it does not show yet.</summary>
    public AllocationResult Assign(ServiceRequest request)
    {
        lock (_gate)
        {
            var r = _allocator.Assign(request);
            _requests[request.Key] = request;
            if (_unreported.Remove(request.Key) && !r.Changed && IsNew(request, r))
            {
                r = r with { Changed = true };
            }

            foreach (var a in r.LoadBalancer.Concat(r.ExternalIPs))
            {
                _assigned.Add(a.Address);
            }

            return r;
        }
    }

    private static bool IsNew(ServiceRequest request, AllocationResult result)
    {
        var shown = request.CurrentAddresses.Concat(request.CurrentExternalIPs).ToHashSet(StringComparer.Ordinal);
        return result.LoadBalancer.Concat(result.ExternalIPs).Any(a => !shown.Contains(a.Address.ToString()));
    }

    /// <summary>The Service's new address could not be written: its next decision reports it as new.</summary>
    public void ReportLater(ServiceKey key)
    {
        lock (_gate)
        {
            _unreported.Add(key);
        }
    }

    /// <summary>The Service is gone: its addresses are released (kept for the sticky grace). True when it held any.</summary>
    public bool Release(ServiceKey key)
    {
        lock (_gate)
        {
            _unreported.Remove(key);
            _requests.Remove(key);
            return _allocator.Release(key);
        }
    }

    public bool Holds(ServiceKey key)
    {
        lock (_gate)
        {
            return _allocator.LoadBalancerOf(key).Count > 0 || _allocator.ExternalOf(key).Count > 0;
        }
    }

    /// <summary>An address this session handed out at some point (so it may clear it from a Service).</summary>
    public bool WasOurs(string ip)
    {
        lock (_gate)
        {
            return Address.TryParse(ip, out var a) && _assigned.Contains(a);
        }
    }

    /// <summary>Every held address with its owners and their traffic policies, and the pools, as one consistent picture.</summary>
    public (List<ClaimSource> Held, PoolSet Pools) Snapshot()
    {
        lock (_gate)
        {
            var held = _allocator.Held().Select(h => new ClaimSource(h.Address, h.Pool, h.PrefixLength,
                h.Holders.Select(k => new Owner(k, _requests.TryGetValue(k, out var r) ? r.ExternalTrafficPolicy : TrafficPolicy.Cluster)).ToList())).ToList();
            return (held, _pools);
        }
    }

    public (IReadOnlyList<PoolUsage> Usage, PoolSet Pools) PoolState()
    {
        lock (_gate)
        {
            return (_allocator.Usage(), _pools);
        }
    }

    /// <summary>The spec (as JSON) and generation the pool last served validly, for its status.</summary>
    public (string Json, long Generation)? LastValidPool(string pool)
    {
        lock (_gate)
        {
            return _lastGood.Of(pool);
        }
    }

    public IReadOnlyDictionary<ServiceKey, IReadOnlyList<Assignment>> Assignments()
    {
        lock (_gate)
        {
            return _allocator.Services.ToDictionary(k => k, k => (IReadOnlyList<Assignment>)[.. _allocator.LoadBalancerOf(k), .. _allocator.ExternalOf(k)]);
        }
    }

    /// <summary>When the earliest address kept for a deleted Service is freed (its pool's reserved count drops then).</summary>
    public DateTimeOffset? NextReservationExpiry
    {
        get
        {
            lock (_gate)
            {
                return _allocator.NextReservationExpiry;
            }
        }
    }
}
