using Extip.Core.Pools;

namespace Extip.Core.Scheduling;

/// <summary>One address to place: how, on which nodes it may live, and where it lives now.</summary>
public sealed record ClaimDemand(
    string Id,
    Distribution Distribution,
    int NodesPerAddress,
    IReadOnlyCollection<string> Eligible,
    IReadOnlyList<string> Current)
{
    /// <summary>
    /// What Balance evens out over: claims of one group (a pool and family) are spread within
    /// ±1 per node of each other; the nodes' totals over every group only break ties.
    /// </summary>
    public string Group { get; init; } = string.Empty;
}

public sealed record SchedulerOptions
{
    /// <summary>When a node arrives, move addresses onto it until the spread is even again.</summary>
    public bool RebalanceOnArrival { get; init; } = true;

    /// <summary>
    /// Nodes just back, in their hold-down: they keep what they hold, take new addresses only
    /// when no other eligible node can, and nothing is moved onto them to rebalance.
    /// </summary>
    public IReadOnlySet<string> Settling { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// The share of a group's addresses that rebalancing may move in one call (at least one;
    /// null: as many as it takes): a node that has come back is given addresses a few at a time,
    /// so one that fails again soon takes few with it.
    /// </summary>
    public double? RebalanceShare { get; init; }

    /// <summary>Nodes whose agent has gone quiet (its Lease not renewed for a while): nothing is moved off them just to rebalance.</summary>
    public IReadOnlySet<string> Quiet { get; init; } = new HashSet<string>(StringComparer.Ordinal);
}

/// <summary>
/// Computes which nodes hold each address. <c>All</c>: every eligible node. <c>Balance</c>:
/// <c>nodesPerAddress</c> nodes per address such that, within each group (pool and family), no
/// node holds more than one address above any other, keeping every placement that is still
/// valid: a lost node moves only its own addresses, and an arriving node receives only what evens
/// the spread. Between equally loaded nodes of a group, the one with fewer addresses over all
/// groups wins, so the totals stay even too without being the target. Damping: nodes in their
/// hold-down get new addresses only as a last resort and none to rebalance, and nothing moves off
/// a quiet node to rebalance.
/// </summary>
public static class ClaimScheduler
{
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Schedule(IReadOnlyList<ClaimDemand> claims, SchedulerOptions? options = null) =>
        Schedule(claims, options, out _);

    /// <summary>As <see cref="Schedule(IReadOnlyList{ClaimDemand}, SchedulerOptions?)"/>; <paramref name="unbalanced"/>: some group is still to be evened out (its rebalancing moves were limited).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Schedule(IReadOnlyList<ClaimDemand> claims, SchedulerOptions? options, out bool unbalanced)
    {
        unbalanced = false;
        ArgumentNullException.ThrowIfNull(claims);
        options ??= new SchedulerOptions();
        var result = new Dictionary<string, IReadOnlyList<string>>(claims.Count, StringComparer.Ordinal);
        var balance = new List<ClaimDemand>();
        foreach (var c in claims)
        {
            if (c.Distribution == Distribution.All)
            {
                result[c.Id] = c.Eligible.Order(StringComparer.Ordinal).ToList();
            }
            else
            {
                balance.Add(c);
            }
        }

        if (balance.Count > 0)
        {
            // Kept placements count in the totals before any group fills: the tie-breaker sees
            // every group's current load, not only the groups already done.
            var totals = new Dictionary<string, int>(StringComparer.Ordinal);
            var spreads = balance.GroupBy(c => c.Group, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new Spread(g, totals, options.Settling, options.Quiet)).ToList();
            foreach (var spread in spreads)
            {
                spread.KeepValid();
            }

            foreach (var spread in spreads)
            {
                spread.Fill();
                spread.Repair();
                if (options.RebalanceOnArrival)
                {
                    unbalanced |= !spread.Rebalance(options.RebalanceShare is { } share ? Math.Max(1, (int)Math.Ceiling(share * spread.Count)) : null);
                }

                foreach (var (id, nodes) in spread.Result())
                {
                    result[id] = nodes;
                }
            }
        }

        return result;
    }
}
