namespace Extip.Core.Scheduling;

/// <summary>The working state of one group's Balance placement: node loads and which claims sit on which node.</summary>
internal sealed class Spread
{
    private readonly List<Slotted> _claims;
    private readonly Dictionary<string, int> _load = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<int>> _onNode = new(StringComparer.Ordinal);
    private readonly HashSet<(int Claim, string Node)> _placedNew = [];
    private readonly Dictionary<string, int> _totals;

    /// <param name="claims">One group's claims.</param>
    /// <param name="totals">Every group's load per node, shared: the tie-breaker.</param>
    public Spread(IEnumerable<ClaimDemand> claims, Dictionary<string, int>? totals = null)
    {
        _totals = totals ?? new Dictionary<string, int>(StringComparer.Ordinal);
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
                _placedNew.Add((i, best!));
            }
        }
    }

    /// <summary>
    /// Step 3: even out what Fill could not place evenly by moving only slots Fill placed, along
    /// chains (a → b → c) where a direct move is blocked because the target already holds that
    /// address. Kept placements never move here, so a lost node moves only its own addresses.
    /// </summary>
    public void Repair()
    {
        while (TryChainMove(onlyNew: true))
        {
        }
    }

    /// <summary>Step 4 (when rebalancing is on): move any slot, one chain at a time, until no node is two above another.</summary>
    public void Rebalance()
    {
        while (TryChainMove(onlyNew: false))
        {
        }
    }

    public IEnumerable<(string Id, IReadOnlyList<string> Nodes)> Result() =>
        _claims.Select(c => (c.Demand.Id, c.Nodes.Count < 2 ? (IReadOnlyList<string>)c.Nodes : c.Nodes.Order(StringComparer.Ordinal).ToList()));

    /// <summary>
    /// Breadth-first search from the most loaded nodes to a node at least two below them; each
    /// edge u→v is a slot on u that may move to v. The path is applied from its end, so each
    /// node on the way keeps its load and only the first loses one and the last gains one.
    /// </summary>
    private bool TryChainMove(bool onlyNew)
    {
        if (_load.Count < 2)
        {
            return false;
        }

        var max = _load.Values.Max();
        var min = _load.Values.Min();
        if (max - min < 2)
        {
            return false;
        }

        var parent = new Dictionary<string, (string From, int Claim)>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        foreach (var n in _load.Where(kv => kv.Value == max).Select(kv => kv.Key).Order(StringComparer.Ordinal))
        {
            parent[n] = (n, -1);
            queue.Enqueue(n);
        }

        var targets = _load.Where(kv => kv.Value <= max - 2).OrderBy(kv => kv.Value).ThenBy(kv => _totals.GetValueOrDefault(kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key).ToList();
        while (queue.Count > 0)
        {
            var u = queue.Dequeue();
            if (!_onNode.TryGetValue(u, out var onU))
            {
                continue;
            }

            foreach (var i in onU)
            {
                if (onlyNew && !_placedNew.Contains((i, u)))
                {
                    continue;
                }

                var c = _claims[i];
                foreach (var v in targets)
                {
                    if (c.Eligible.Contains(v) && !c.Nodes.Contains(v))
                    {
                        parent[v] = (u, i);
                        return ApplyPath(parent, v);
                    }
                }

                foreach (var v in c.Eligible.Order(StringComparer.Ordinal))
                {
                    if (!parent.ContainsKey(v) && !c.Nodes.Contains(v) && _load[v] < max)
                    {
                        parent[v] = (u, i);
                        queue.Enqueue(v);
                    }
                }
            }
        }

        return false;
    }

    private bool ApplyPath(Dictionary<string, (string From, int Claim)> parent, string end)
    {
        var v = end;
        while (parent[v].Claim >= 0)
        {
            var (u, i) = parent[v];
            if (!_claims[i].Nodes.Contains(u) || _claims[i].Nodes.Contains(v))
            {
                // A claim met twice on the path; what was applied is consistent, the caller retries.
                return true;
            }

            var wasNew = _placedNew.Remove((i, u));
            Unplace(i, u);
            Place(i, v);
            if (wasNew)
            {
                _placedNew.Add((i, v));
            }

            v = u;
        }

        return true;
    }

    private bool Better(string candidate, string best)
    {
        var l = _load[candidate].CompareTo(_load[best]);
        if (l != 0)
        {
            return l < 0;
        }

        var t = _totals.GetValueOrDefault(candidate).CompareTo(_totals.GetValueOrDefault(best));
        return t < 0 || (t == 0 && string.CompareOrdinal(candidate, best) < 0);
    }

    private void Place(int claim, string node)
    {
        _claims[claim].Nodes.Add(node);
        _load[node]++;
        _totals[node] = _totals.GetValueOrDefault(node) + 1;
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
        _totals[node]--;
        _onNode[node].Remove(claim);
    }

    private sealed record Slotted(ClaimDemand Demand, IReadOnlySet<string> Eligible)
    {
        /// <summary>One or two nodes as a rule: a list is cheaper than a set.</summary>
        public List<string> Nodes { get; } = new(2);
    }
}
