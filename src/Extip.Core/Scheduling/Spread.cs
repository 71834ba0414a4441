namespace Extip.Core.Scheduling;

/// <summary>The working state of one group's Balance placement: node loads and which claims sit on which node.</summary>
internal sealed class Spread
{
    private readonly List<Slotted> _claims;
    private readonly Dictionary<string, int> _load = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<int>> _onNode = new(StringComparer.Ordinal);
    private readonly HashSet<(int Claim, string Node)> _placedNew = [];
    private readonly Dictionary<string, int> _totals;
    private readonly IReadOnlySet<string> _settling;
    private readonly IReadOnlySet<string> _quiet;

    /// <param name="claims">One group's claims.</param>
    /// <param name="totals">Every group's load per node, shared: the tie-breaker.</param>
    /// <param name="settling">Nodes in their hold-down: new addresses only as a last resort, none to rebalance.</param>
    /// <param name="quiet">Nodes nothing is moved off to rebalance.</param>
    public Spread(IEnumerable<ClaimDemand> claims, Dictionary<string, int>? totals = null, IReadOnlySet<string>? settling = null, IReadOnlySet<string>? quiet = null)
    {
        _totals = totals ?? new Dictionary<string, int>(StringComparer.Ordinal);
        _settling = settling ?? new HashSet<string>(StringComparer.Ordinal);
        _quiet = quiet ?? new HashSet<string>(StringComparer.Ordinal);
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

    /// <summary>The group's claims.</summary>
    public int Count => _claims.Count;

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

    /// <summary>
    /// Step 2: missing slots go to the least-loaded eligible node (ties by name); a node in its
    /// hold-down only when no settled one can take the slot.
    /// </summary>
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
                    if (!c.Nodes.Contains(n) && (best is null || Preferred(n, best)))
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

    /// <summary>
    /// Step 4 (when rebalancing is on): move any slot, one chain at a time, until no node is two
    /// above another, or <paramref name="limit"/> chains have moved; false when the limit stopped it.
    /// </summary>
    public bool Rebalance(int? limit = null)
    {
        for (var moved = 0; ; moved++)
        {
            if (moved == limit)
            {
                return !TryChainMove(onlyNew: false, dryRun: true);
            }

            if (!TryChainMove(onlyNew: false))
            {
                return true;
            }
        }
    }

    public IEnumerable<(string Id, IReadOnlyList<string> Nodes)> Result() =>
        _claims.Select(c => (c.Demand.Id, c.Nodes.Count < 2 ? (IReadOnlyList<string>)c.Nodes : c.Nodes.Order(StringComparer.Ordinal).ToList()));

    /// <summary>
    /// Breadth-first search from the most loaded nodes to a node at least two below them; each
    /// edge u→v is a slot on u that may move to v. The path is applied from its end, so each
    /// node on the way keeps its load and only the first loses one and the last gains one.
    /// </summary>
    private bool TryChainMove(bool onlyNew, bool dryRun = false)
    {
        if (_load.Count < 2)
        {
            return false;
        }

        // Nodes in their hold-down take no part: they are not even yet, and nothing moves onto them.
        var loads = _load.Where(kv => !_settling.Contains(kv.Key)).ToList();
        if (loads.Count < 2)
        {
            return false;
        }

        var max = loads.Max(kv => kv.Value);
        var min = loads.Min(kv => kv.Value);
        if (max - min < 2)
        {
            return false;
        }

        var parent = new Dictionary<string, (string From, int Claim)>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        foreach (var n in loads.Where(kv => kv.Value == max).Select(kv => kv.Key).Order(StringComparer.Ordinal))
        {
            parent[n] = (n, -1);
            queue.Enqueue(n);
        }

        var targets = loads.Where(kv => kv.Value <= max - 2).OrderBy(kv => kv.Value).ThenBy(kv => _totals.GetValueOrDefault(kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key).ToList();
        while (queue.Count > 0)
        {
            var u = queue.Dequeue();
            if (!_onNode.TryGetValue(u, out var onU))
            {
                continue;
            }

            foreach (var i in onU)
            {
                var placedNew = _placedNew.Contains((i, u));
                if ((onlyNew && !placedNew) || (!placedNew && _quiet.Contains(u)))
                {
                    // Repair moves only what this pass placed; nothing that a quiet node holds
                    // moves to rebalance (it may be hung, and still hold the address).
                    continue;
                }

                var c = _claims[i];
                foreach (var v in targets)
                {
                    if (c.Eligible.Contains(v) && !c.Nodes.Contains(v))
                    {
                        parent[v] = (u, i);
                        return dryRun || ApplyPath(parent, v);
                    }
                }

                foreach (var v in c.Eligible.Order(StringComparer.Ordinal))
                {
                    if (!parent.ContainsKey(v) && !c.Nodes.Contains(v) && !_settling.Contains(v) && _load[v] < max)
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

    /// <summary>Settled before settling, then <see cref="Better"/>.</summary>
    private bool Preferred(string candidate, string best)
    {
        var s = _settling.Contains(candidate).CompareTo(_settling.Contains(best));
        return s != 0 ? s < 0 : Better(candidate, best);
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
