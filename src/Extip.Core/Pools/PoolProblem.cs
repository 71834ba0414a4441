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
/// <param name="Disabled">True when the pool is not used because of it.</param>
public sealed record PoolProblem(string Pool, PoolCondition Condition, string Message, bool Disabled);
