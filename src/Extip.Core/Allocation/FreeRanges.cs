namespace Extip.Core.Allocation;

/// <summary>
/// The free addresses of one pool and family as disjoint intervals in a balanced tree, so that
/// taking the lowest free address, taking a given one and giving one back are O(log n) in the
/// number of intervals, never in the size of the pool: a /8 or a /64 costs what a /28 costs.
/// </summary>
internal sealed class FreeRanges
{
    private readonly SortedSet<Interval> _set = new(IntervalByLo.Instance);

    public int IntervalCount => _set.Count;

    /// <summary>Adds a whole range at build time; the caller adds disjoint, non-touching ranges.</summary>
    public void AddRange(UInt128 lo, UInt128 hi) => _set.Add(new Interval(lo, hi));

    public bool Contains(UInt128 value) => TryFindContaining(value, out _);

    /// <summary>The lowest free address (skipping IPv4 .0 and .255 when asked), without taking it.</summary>
    public bool TryPeekLowest(bool avoidBuggy, out UInt128 value)
    {
        foreach (var iv in _set)
        {
            var c = avoidBuggy ? SkipBuggy(iv.Lo) : iv.Lo;
            if (c <= iv.Hi && c >= iv.Lo)
            {
                value = c;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>Takes the lowest free address. With <paramref name="avoidBuggy"/>, buggy-only fragments met on the way are dropped, so they are never scanned twice.</summary>
    public bool TryTakeLowest(bool avoidBuggy, out UInt128 value)
    {
        while (_set.Count > 0)
        {
            var iv = _set.Min;
            var c = avoidBuggy ? SkipBuggy(iv.Lo) : iv.Lo;
            _set.Remove(iv);
            if (c > iv.Hi || c < iv.Lo)
            {
                continue;
            }

            if (c < iv.Hi)
            {
                _set.Add(new Interval(c + 1, iv.Hi));
            }

            value = c;
            return true;
        }

        value = default;
        return false;
    }

    /// <summary>Takes one given address if it is in the free list.</summary>
    public bool TryTake(UInt128 value)
    {
        if (!TryFindContaining(value, out var iv))
        {
            return false;
        }

        _set.Remove(iv);
        if (value > iv.Lo)
        {
            _set.Add(new Interval(iv.Lo, value - 1));
        }

        if (value < iv.Hi)
        {
            _set.Add(new Interval(value + 1, iv.Hi));
        }

        return true;
    }

    /// <summary>Gives an address back, joining it with the intervals on either side.</summary>
    public void Release(UInt128 value)
    {
        if (TryFindContaining(value, out _))
        {
            return;
        }

        var lo = value;
        var hi = value;
        if (value > UInt128.Zero && TryFindContaining(value - 1, out var before))
        {
            _set.Remove(before);
            lo = before.Lo;
        }

        if (value < UInt128.MaxValue && _set.TryGetValue(new Interval(value + 1, value + 1), out var after))
        {
            _set.Remove(after);
            hi = after.Hi;
        }

        _set.Add(new Interval(lo, hi));
    }

    private bool TryFindContaining(UInt128 value, out Interval interval)
    {
        interval = default;
        if (_set.Count == 0)
        {
            return false;
        }

        var min = _set.Min;
        if (value < min.Lo)
        {
            return false;
        }

        var candidate = _set.GetViewBetween(min, new Interval(value, value)).Max;
        if (candidate.Hi >= value)
        {
            interval = candidate;
            return true;
        }

        return false;
    }

    /// <summary>First address at or after <paramref name="v"/> whose last octet is neither 0 nor 255.</summary>
    private static UInt128 SkipBuggy(UInt128 v)
    {
        var low = (byte)v;
        return low == 255 ? v + 2 : low == 0 ? v + 1 : v;
    }

    private readonly record struct Interval(UInt128 Lo, UInt128 Hi);

    private sealed class IntervalByLo : IComparer<Interval>
    {
        public static readonly IntervalByLo Instance = new();

        public int Compare(Interval x, Interval y) => x.Lo.CompareTo(y.Lo);
    }
}
