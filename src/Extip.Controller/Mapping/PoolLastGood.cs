using Extip.Core.Pools;
using Extip.Kubernetes.Models;
using k8s;

namespace Extip.Controller.Mapping;

/// <summary>
/// The last valid spec of every pool (DESIGN.md, "Last good configuration"): kept here, and in
/// the pool's status (<c>lastValidSpec</c>, <c>lastValidGeneration</c>) so that a restarted
/// controller serves the same spec. Used under the session's lock.
/// </summary>
internal sealed class PoolLastGood
{
    private readonly Dictionary<string, (string Json, long Generation, IpPoolSpecModel Spec)> _last = new(StringComparer.Ordinal);
    private readonly HashSet<string> _cleared = new(StringComparer.Ordinal);

    /// <summary>The pool as it is now, with its last valid version: known here, or else read from its status.</summary>
    public PoolEntry Entry(IpPool pool)
    {
        var current = new PoolVersion(PoolMapping.ToSpec(pool), pool.Metadata.Generation ?? 0);
        if (_last.TryGetValue(pool.Metadata.Name, out var known))
        {
            return new PoolEntry(current, new PoolVersion(PoolMapping.ToSpec(pool.Metadata, known.Spec), known.Generation));
        }

        if (!_cleared.Contains(pool.Metadata.Name) && pool.Status is { LastValidSpec: { } json, LastValidGeneration: { } generation } && Parse(json) is { } spec)
        {
            return new PoolEntry(current, new PoolVersion(PoolMapping.ToSpec(pool.Metadata, spec), generation));
        }

        return new PoolEntry(current, null);
    }

    /// <summary>Records the pools whose current spec is in service as their last valid one; forgets deleted pools.</summary>
    public void Served(IReadOnlyCollection<IpPool> pools, PoolSet set)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pool in pools)
        {
            var name = pool.Metadata.Name;
            names.Add(name);
            var generation = pool.Metadata.Generation ?? 0;
            if (!set.Serving.TryGetValue(name, out var v))
            {
                // Not in service: no last valid spec to fall back on any more (see PoolEntry).
                _last.Remove(name);
                _cleared.Add(name);
                continue;
            }

            _cleared.Remove(name);
            if (v.Generation == generation && v.Spec.Errors.Count == 0
                && !(_last.TryGetValue(name, out var known) && known.Generation == generation))
            {
                _last[name] = (ExtipJson.Serialize(pool.Spec), generation, pool.Spec);
            }
        }

        foreach (var gone in _last.Keys.Where(n => !names.Contains(n)).ToList())
        {
            _last.Remove(gone);
        }

        _cleared.IntersectWith(names);
    }

    /// <summary>What the pool's status should say it last served validly, if known.</summary>
    public (string Json, long Generation)? Of(string pool) =>
        _last.TryGetValue(pool, out var v) ? (v.Json, v.Generation) : null;

    private static IpPoolSpecModel? Parse(string json)
    {
        try
        {
            return ExtipJson.Deserialize<IpPoolSpecModel>(json);
        }
        catch (System.Text.Json.JsonException)
        {
            // A status someone else wrote badly: as if none.
            return null;
        }
    }
}
