using Extip.Core.Pools;

namespace Extip.Core.Scheduling;

/// <summary>One address to place: how, on which nodes it may live, and where it lives now.</summary>
public sealed record ClaimDemand(
    string Id,
    Distribution Distribution,
    int NodesPerAddress,
    IReadOnlyCollection<string> Eligible,
    IReadOnlyList<string> Current);

public sealed record SchedulerOptions
{
    /// <summary>When a node arrives, move addresses onto it until the spread is even again.</summary>
    public bool RebalanceOnArrival { get; init; } = true;
}

/// <summary>
/// Computes which nodes hold each address. <c>All</c>: every eligible node. <c>Balance</c>:
/// <c>nodesPerAddress</c> nodes per address such that no node holds more than one address above
/// any other, keeping every placement that is still valid: a lost node moves only its own
/// addresses, and an arriving node receives only what evens the spread.
/// </summary>
public static class ClaimScheduler
{
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Schedule(IReadOnlyList<ClaimDemand> claims, SchedulerOptions? options = null)
    {
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
            var spread = new Spread(balance);
            spread.KeepValid();
            spread.Fill();
            spread.Repair();
            if (options.RebalanceOnArrival)
            {
                spread.Rebalance();
            }

            foreach (var (id, nodes) in spread.Result())
            {
                result[id] = nodes;
            }
        }

        return result;
    }
}
