namespace Extip.Core.Scheduling;

/// <summary>The working state of a Balance placement: node loads and which claims sit on which node.</summary>
internal sealed class Spread
{
    private readonly List<Slotted> _claims;
    private readonly Dictionary<string, int> _load = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<int>> _onNode = new(StringComparer.Ordinal);

    public Spread(IEnumerable<ClaimDemand> claims)
    {
        _claims = claims
            .OrderBy(c => c.Id, StringComparer.Ordinal)
            .Select(c => new Slotted(c, c.Eligible as IReadOnlySet<string> ?? c.Eligible.ToHashSet(StringComparer.Ordinal)))
            .ToList();
        foreach (var c in _claims)
        {
            foreach (var n in c.Eligible)
            {
                _load.TryAdd(n, 0);
            }
        }
    }

    /// <summary>Step 1: every current placement on a still-eligible node stays.</summary>
    public void KeepValid()
    {
        for (var i = 0; i < _claims.Count; i++)
        {
            var c = _claims[i];
            foreach (var n in c.Demand.Current)
            {
                if (c.Nodes.Count < c.Demand.NodesPerAddress && c.Eligible.Contains(n) && !c.Nodes.Contains(n))
                {
                    Place(i, n);
                }
            }
        }
    }

    /// <summary>Step 2: missing slots go to the least-loaded eligible node (ties by name).</summary>
    public void Fill()
    {
        for (var i = 0; i < _claims.Count; i++)
        {
            var c = _claims[i];
            var want = Math.Min(c.Demand.NodesPerAddress, c.Eligible.Count);
            while (c.Nodes.Count < want)
            {
                string? best = null;
                foreach (var n in c.Eligible)
                {
                    if (!c.Nodes.Contains(n) && (best is null || Better(n, best)))
                    {
                        best = n;
                    }
                }

                Place(i, best!);
            }
        }
    }

    /// <summary>Step 3: move one slot at a time from the most to the least loaded node until no node is two above another.</summary>
    public void Rebalance()
    {
        while (TryMoveOne())
        {
        }
    }

    public IEnumerable<(string Id, IReadOnlyList<string> Nodes)> Result() =>
        _claims.Select(c => (c.Demand.Id, (IReadOnlyList<string>)c.Nodes.Order(StringComparer.Ordinal).ToList()));

    private bool TryMoveOne()
    {
        if (_load.Count < 2)
        {
            return false;
        }

        var byLoadDesc = _load.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var byLoadAsc = Enumerable.Reverse(byLoadDesc).ToList();
        foreach (var (from, high) in byLoadDesc)
        {
            if (high - byLoadAsc[0].Value < 2)
            {
                return false;
            }

            if (!_onNode.TryGetValue(from, out var onFrom))
            {
                continue;
            }

            foreach (var (to, low) in byLoadAsc)
            {
                if (high - low < 2)
                {
                    break;
                }

                foreach (var i in onFrom)
                {
                    var c = _claims[i];
                    if (c.Eligible.Contains(to) && !c.Nodes.Contains(to))
                    {
                        Unplace(i, from);
                        Place(i, to);
                        return true;
                    }
                }
            }
        }

        return false;
    }

    private bool Better(string candidate, string best)
    {
        var l = _load[candidate].CompareTo(_load[best]);
        return l < 0 || (l == 0 && string.CompareOrdinal(candidate, best) < 0);
    }

    private void Place(int claim, string node)
    {
        _claims[claim].Nodes.Add(node);
        _load[node]++;
        if (!_onNode.TryGetValue(node, out var set))
        {
            _onNode[node] = set = [];
        }

        set.Add(claim);
    }

    private void Unplace(int claim, string node)
    {
        _claims[claim].Nodes.Remove(node);
        _load[node]--;
        _onNode[node].Remove(claim);
    }

    private sealed record Slotted(ClaimDemand Demand, IReadOnlySet<string> Eligible)
    {
        public HashSet<string> Nodes { get; } = new(StringComparer.Ordinal);
    }
}
