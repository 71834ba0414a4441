using Extip.Core.Addresses;
using Extip.Core.Pools;

namespace Extip.Core.Allocation;

public sealed partial class Allocator
{
    private static readonly List<Pick> NoPicks = [];

    /// <summary>The Service field a refusal of an external IP names.</summary>
    public const string ExternalIPsField = "spec.externalIPs";

    private List<Pick> DecideExternal(ServiceRequest req, List<Refusal> refusals)
    {
        if (req.ExternalIPs.Count == 0)
        {
            return NoPicks;
        }

        var picks = new List<Pick>(req.ExternalIPs.Count);
        foreach (var text in req.ExternalIPs.Distinct(StringComparer.Ordinal))
        {
            if (ExternalIpRules.Refusal(text, _options.ExternalIPs, _pools, req.Key.Namespace, req.NamespaceLabels, req.Labels) is { } refused)
            {
                refusals.Add(refused);
                continue;
            }

            var a = Address.Parse(text);
            var pool = _pools.Find(a);

            if (Conflict(a, req, allowReserved: true, mayPreempt: true) is { } conflict)
            {
                // The field is the problem, and the rule that refused it is named (issue 11).
                refusals.Add(conflict with { Message = $"spec.externalIPs: {conflict.Message}", Field = ExternalIPsField });
                continue;
            }

            picks.Add(new Pick(a, pool is null ? null : _poolStates[pool.Name]));
        }

        return picks;
    }

    private List<Pick> DecideLoadBalancer(ServiceRequest req, Holding? holding, List<Refusal> refusals, bool reloadOnly = false)
    {
        var families = DesiredFamilies(req);
        Pool? requestedPool = null;
        if (req.RequestedPool is { } rp)
        {
            if (!_pools.ByName.TryGetValue(rp, out requestedPool))
            {
                refusals.Add(new(RefusalReason.NoSuchPool, rp, $"pool \"{rp}\" does not exist or is not usable (see its conditions)"));
                return KeepValid(req, holding, families, null);
            }

            if (!requestedPool.Serves(req.Key.Namespace, req.NamespaceLabels, req.Labels))
            {
                refusals.Add(new(RefusalReason.PoolNotAllowed, rp, $"pool \"{rp}\" does not serve Service {req.Key} (spec.serviceAllocation)"));
                return KeepValid(req, holding, families, null);
            }
        }

        // A scratch list: Commit copies what it keeps, so nothing holds on to it.
        var chosen = _chosen;
        chosen.Clear();
        if (req.RequestedAddresses.Count > 0 && !reloadOnly)
        {
            var refused = new List<Refusal>();
            chosen = DecideRequested(req, families, requestedPool, refused);
            if (refused.Count > 0)
            {
                refusals.AddRange(refused);
                return KeepValid(req, holding, families, requestedPool);
            }
        }

        // What the Service holds (or, after a restart, shows in its status) stays when still valid.
        // What its status shows comes first: when it is valid and free yet differs from what this
        // allocator holds, another writer got there first (a previous leader whose last write
        // landed after this one reloaded), and clients already use the shown address.
        if (holding is not null)
        {
            foreach (var text in req.CurrentAddresses)
            {
                if (Address.TryParse(text, out var c))
                {
                    KeepCurrent(c, req, families, requestedPool, chosen);
                }
            }

            foreach (var c in holding.LoadBalancer)
            {
                KeepCurrent(c.Address, req, families, requestedPool, chosen);
            }
        }
        else
        {
            foreach (var text in req.CurrentAddresses)
            {
                if (Address.TryParse(text, out var c))
                {
                    KeepCurrent(c, req, families, requestedPool, chosen);
                }
            }
        }

        if (reloadOnly)
        {
            return chosen;
        }

        var failed = false;
        for (var i = 0; i < families.Count; i++)
        {
            var (family, required) = families[i];
            if (HasFamily(chosen, family))
            {
                continue;
            }

            if ((FromSticky(req, family, requestedPool) ?? FromSharing(req, family, requestedPool) ?? FromPools(req, family, requestedPool)) is { } pick)
            {
                chosen.Add(pick);
            }
            else if (required)
            {
                refusals.Add(NoAddress(req, family, requestedPool));
                failed = true;
            }
        }

        if (failed)
        {
            return KeepValid(req, holding, families, requestedPool);
        }

        if (chosen.Count == 2 && chosen[0].Address.Family != families.Primary)
        {
            (chosen[0], chosen[1]) = (chosen[1], chosen[0]);
        }

        return chosen;
    }

    private void KeepCurrent(Address c, ServiceRequest req, Families families, Pool? requestedPool, List<Pick> chosen)
    {
        if (families.Includes(c.Family) && !HasFamily(chosen, c.Family) && !NamedByOther(c, req, outranking: true)
            && Usable(c, req, requestedPool) is { } ps && Conflict(c, req, allowReserved: true) is null)
        {
            chosen.Add(new Pick(c, ps));
        }
    }

    private static bool HasFamily(List<Pick> picks, IpFamily family)
    {
        foreach (var p in picks)
        {
            if (p.Address.Family == family)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The explicitly requested addresses, each checked; other families are filled by the caller.</summary>
    private List<Pick> DecideRequested(ServiceRequest req, Families families, Pool? requestedPool, List<Refusal> refusals)
    {
        var picks = new List<Pick>();
        var parsed = new List<Address>();
        foreach (var text in req.RequestedAddresses)
        {
            if (Address.TryParse(text.Trim(), out var a, out var why))
            {
                parsed.Add(a);
            }
            else
            {
                refusals.Add(new(RefusalReason.MalformedAddress, text, $"requested address \"{text}\" is not an IP address: {why}"));
            }
        }

        if (refusals.Count > 0)
        {
            return picks;
        }

        var all = string.Join(", ", parsed);
        if (parsed.Count > 2 || parsed.GroupBy(p => p.Family).Any(g => g.Count() > 1))
        {
            refusals.Add(new(RefusalReason.InvalidRequest, all, $"requested addresses {all}: at most one IPv4 and one IPv6 address may be requested"));
            return picks;
        }

        foreach (var a in parsed)
        {
            if (!families.Includes(a.Family))
            {
                refusals.Add(new(RefusalReason.InvalidRequest, a.ToString(),
                    $"requested address {a} is {a.Family}, but the Service's ipFamilies/ipFamilyPolicy allow only {families}"));
                continue;
            }

            if (ReservedAddresses.Of(a) is { } block)
            {
                refusals.Add(new(RefusalReason.ReservedAddress, a.ToString(), $"requested address {a} is in {block}, which is never handed out"));
                continue;
            }

            var pool = _pools.Find(a);
            if (requestedPool is not null && pool != requestedPool)
            {
                refusals.Add(new(RefusalReason.AddressNotInPool, a.ToString(), $"requested address {a} is not in the requested pool \"{requestedPool.Name}\""));
                continue;
            }

            if (pool is null)
            {
                refusals.Add(new(RefusalReason.AddressNotInPool, a.ToString(), $"requested address {a} is not inside any usable IPPool"));
                continue;
            }

            if (!pool.Serves(req.Key.Namespace, req.NamespaceLabels, req.Labels))
            {
                refusals.Add(new(RefusalReason.PoolNotAllowed, a.ToString(),
                    $"requested address {a} is in pool \"{pool.Name}\", which does not serve Service {req.Key} (spec.serviceAllocation)"));
                continue;
            }

            if (Conflict(a, req, allowReserved: true, mayPreempt: true) is { } conflict)
            {
                refusals.Add(conflict);
                continue;
            }

            picks.Add(new Pick(a, _poolStates[pool.Name]));
        }

        return picks;
    }

    /// <summary>On a refusal the Service keeps what it held, as long as that is still valid.</summary>
    private List<Pick> KeepValid(ServiceRequest req, Holding? holding, Families families, Pool? requestedPool)
    {
        var keep = new List<Pick>();
        if (holding is null)
        {
            return keep;
        }

        foreach (var a in holding.LoadBalancer)
        {
            if (families.Includes(a.Address.Family) && !NamedByOther(a.Address, req, outranking: true) && Usable(a.Address, req, requestedPool) is { } ps
                && Conflict(a.Address, req, allowReserved: true) is null)
            {
                keep.Add(new Pick(a.Address, ps));
            }
        }

        return keep;
    }

    private static Families DesiredFamilies(ServiceRequest req) => new(req.PrimaryFamily, req.FamilyPolicy);

    /// <summary>The pool state of the address when this Service may hold it, else null.</summary>
    private PoolState? Usable(Address a, ServiceRequest req, Pool? requestedPool)
    {
        var pool = _pools.Find(a);
        if (pool is null || (requestedPool is not null && pool != requestedPool)
            || !pool.Serves(req.Key.Namespace, req.NamespaceLabels, req.Labels))
        {
            return null;
        }

        return _poolStates[pool.Name];
    }

    private Pick? FromSticky(ServiceRequest req, IpFamily family, Pool? requestedPool)
    {
        if (!_sticky.TryGetValue(req.Key, out var res))
        {
            return null;
        }

        foreach (var a in res.Addresses)
        {
            if (a.Family == family && !NamedByOther(a, req) && Usable(a, req, requestedPool) is { } ps)
            {
                return new Pick(a, ps);
            }
        }

        return null;
    }

    private Pick? FromSharing(ServiceRequest req, IpFamily family, Pool? requestedPool)
    {
        if (req.SharingKey is not { } key || !_bySharingKey.TryGetValue(key, out var shared))
        {
            return null;
        }

        // Only load-balancer addresses are shared this way, never another Service's external IP.
        foreach (var a in shared.Where(a => a.Family == family).Order())
        {
            if (_addresses[a].Holders.Any(h => h.Request.SharingKey == key && Array.Exists(h.LoadBalancer, x => x.Address == a))
                && !NamedByOther(a, req) && Usable(a, req, requestedPool) is { } ps && Conflict(a, req, allowReserved: false) is null)
            {
                return new Pick(a, ps);
            }
        }

        return null;
    }

    private Pick? FromPools(ServiceRequest req, IpFamily family, Pool? requestedPool)
    {
        if (requestedPool is not null)
        {
            return Lowest(_poolStates[requestedPool.Name], family, req);
        }

        var pools = _pools.Pools;
        for (var i = 0; i < pools.Count; i++)
        {
            var pool = pools[i];
            if (pool.Spec.AutoAssign && pool.Has(family) && pool.Serves(req.Key.Namespace, req.NamespaceLabels, req.Labels)
                && Lowest(_poolStates[pool.Name], family, req) is { } pick)
            {
                return pick;
            }
        }

        return null;
    }

    /// <summary>
    /// The lowest free address of the pool that no other Service names. Named free addresses are
    /// few (their namers were refused for another reason, or not assigned yet): they are taken out
    /// of the free list while looking, and put back.
    /// </summary>
    private Pick? Lowest(PoolState ps, IpFamily family, ServiceRequest req)
    {
        var free = ps.Free(family);
        List<UInt128>? skipped = null;
        Pick? pick = null;
        while (free.TryPeekLowest(ps.AvoidBuggy(family), out var v))
        {
            var a = new Address(family, v);
            if (!NamedByOther(a, req))
            {
                pick = new Pick(a, ps);
                break;
            }

            free.TryTake(v);
            (skipped ??= []).Add(v);
        }

        foreach (var v in skipped ?? [])
        {
            free.Release(v);
        }

        return pick;
    }

    private Refusal NoAddress(ServiceRequest req, IpFamily family, Pool? requestedPool)
    {
        if (requestedPool is not null)
        {
            return requestedPool.Has(family)
                ? new(RefusalReason.PoolExhausted, requestedPool.Name, $"pool \"{requestedPool.Name}\" has no free {family} address")
                : new(RefusalReason.FamilyUnavailable, requestedPool.Name, $"pool \"{requestedPool.Name}\" has no {family} addresses");
        }

        var candidates = _pools.Pools
            .Where(p => p.Spec.AutoAssign && p.Has(family) && p.Serves(req.Key.Namespace, req.NamespaceLabels, req.Labels))
            .Select(p => $"\"{p.Name}\"")
            .ToList();
        return candidates.Count == 0
            ? new(RefusalReason.NoPoolAvailable, family.ToString(), $"no auto-assigning IPPool with {family} addresses serves Service {req.Key}")
            : new(RefusalReason.PoolExhausted, family.ToString(), $"no free {family} address in pool{(candidates.Count > 1 ? "s" : "")} {string.Join(", ", candidates)}");
    }

    /// <summary>
    /// Why this Service may not hold the address, or null when it may: it is free, or every
    /// holder shares the Service's sharing key with disjoint ports and a compatible traffic policy.
    /// </summary>
    private Refusal? Conflict(Address a, ServiceRequest req, bool allowReserved, bool mayPreempt = false)
    {
        if (!_addresses.TryGetValue(a, out var entry))
        {
            return null;
        }

        if (entry.Holders.Count == 0)
        {
            return allowReserved || entry.ReservedFor == req.Key
                ? null
                : new(RefusalReason.AddressInUse, a.ToString(), $"{a} is kept for deleted {Who(entry.ReservedFor!.Value, req)}");
        }

        for (var i = 0; i < entry.Holders.Count; i++)
        {
            var h = entry.Holders[i];
            if (h.Key == req.Key || Clash(a, req, h) is not { } refusal)
            {
                continue;
            }

            if (mayPreempt && !_reloading && Preempts(req, h, a))
            {
                // Explicit requests win: the holder gives the address up once this decision is committed.
                _displace.Add((h, a));
                continue;
            }

            return refusal;
        }

        return null;
    }

    /// <summary>
    /// Why this Service may not hold the address beside holder <paramref name="h"/>, or null when
    /// they may share it. Messages never name a Service of another namespace (issue 11: a refusal
    /// must not tell one tenant what another runs).
    /// </summary>
    private Refusal? Clash(Address a, ServiceRequest req, Holding h)
    {
        var other = h.Request;
        var who = Who(h.Key, req);
        var older = Names(h.Key, a) && Names(req.Key, a) ? "; between two requests for one address the older Service keeps it" : string.Empty;
        if (req.SharingKey is null || other.SharingKey != req.SharingKey)
        {
            return new(RefusalReason.AddressInUse, a.ToString(), other.SharingKey is null || h.Key.Namespace != req.Key.Namespace
                ? $"{a} is in use by {who}{older}"
                : $"{a} is in use by {who} with sharing key \"{other.SharingKey}\"{(req.SharingKey is null ? "; this Service has none" : $", not \"{req.SharingKey}\"")}{older}");
        }

        var clash = req.Ports.FirstOrDefault(p => other.Ports.Contains(p));
        if (clash != default)
        {
            return new(RefusalReason.SharingConflict, a.ToString(), $"{a}: port {clash} is already used by {who}");
        }

        if (req.ExternalTrafficPolicy != other.ExternalTrafficPolicy)
        {
            return new(RefusalReason.SharingConflict, a.ToString(),
                $"{a}: externalTrafficPolicy {req.ExternalTrafficPolicy} cannot share with {who}, which has {other.ExternalTrafficPolicy}");
        }

        if (req.ExternalTrafficPolicy == TrafficPolicy.Local && !SameSelector(req.Selector, other.Selector))
        {
            return new(RefusalReason.SharingConflict, a.ToString(),
                $"{a}: Services with externalTrafficPolicy Local share an address only when they select the same pods; {who} selects others");
        }

        return null;
    }

    /// <summary>Another Service as a refusal may name it: by name in the same namespace, else not at all.</summary>
    private static string Who(ServiceKey other, ServiceRequest req) =>
        other.Namespace == req.Key.Namespace ? $"Service {other}" : "a Service in another namespace";

    private static bool SameSelector(IReadOnlyDictionary<string, string> x, IReadOnlyDictionary<string, string> y) =>
        x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var v) && v == kv.Value);
}
