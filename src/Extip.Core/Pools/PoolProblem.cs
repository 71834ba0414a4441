namespace Extip.Core.Pools;

public enum PoolCondition
{
    /// <summary>The pool's spec is wrong; the pool is not used.</summary>
    Invalid,

    /// <summary>The pool shares addresses with another pool; the younger of the two is not used.</summary>
    Overlap,
}

/// <summary>One thing wrong with a pool, as a condition on that pool names it.</summary>
/// <param name="Pool">The pool the condition goes on.</param>
/// <param name="Condition">Condition type.</param>
/// <param name="Message">Names the field and the value, or the other pool.</param>
/// <param name="Disabled">True when the pool is not used because of it (false when it serves its last valid spec).</param>
public sealed record PoolProblem(string Pool, PoolCondition Condition, string Message, bool Disabled);

/// <summary>One generation of a pool's spec.</summary>
public sealed record PoolVersion(IpPoolSpec Spec, long Generation);

/// <summary>
/// A pool as it is now, and its last valid version: the one in service when the pools were last
/// built (null: none). A pool that was not in service has none, even if it once had one: its old
/// addresses may be another pool's by now (found by the property test in LastGoodTests).
/// </summary>
public sealed record PoolEntry(PoolVersion Current, PoolVersion? LastValid);
