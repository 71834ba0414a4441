namespace Extip.Core.Allocation;

/// <summary>
/// The free addresses of one pool and family as disjoint intervals in a treap keyed by the
/// interval start, so that taking the lowest free address, taking a given one and giving one
/// back are O(log n) in the number of intervals, never in the size of the pool: a /8 or a /64
/// costs what a /28 costs. Taking or returning an address at an interval's edge only moves that
/// edge in place, which keeps sequential allocation free of tree work and of garbage.
/// </summary>
internal sealed class FreeRanges
{
    private Node? _root;
    private uint _seed = 2463534242;

    public int IntervalCount { get; private set; }

    /// <summary>Adds a whole range at build time; the caller adds disjoint, non-touching ranges.</summary>
    public void AddRange(UInt128 lo, UInt128 hi) => Insert(new Node(lo, hi, NextPriority()));

    public bool Contains(UInt128 value) => Floor(value) is { } n && n.Hi >= value;

    /// <summary>
    /// The lowest free address (skipping IPv4 .0 and .255 when asked), without taking it.
    /// Intervals holding only such addresses are dropped on the way: they are never handed out
    /// automatically, an explicit request does not need the free list, and giving such an address
    /// back puts it here again. So they are never walked twice.
    /// </summary>
    public bool TryPeekLowest(bool avoidBuggy, out UInt128 value)
    {
        for (var n = Min(); n is not null; n = Min())
        {
            var c = avoidBuggy ? SkipBuggy(n.Lo) : n.Lo;
            if (c <= n.Hi && c >= n.Lo)
            {
                value = c;
                return true;
            }

            Delete(n.Lo);
        }

        value = default;
        return false;
    }

    /// <summary>Takes one given address if it is in the free list.</summary>
    public bool TryTake(UInt128 value)
    {
        if (Floor(value) is not { } n || n.Hi < value)
        {
            return false;
        }

        if (n.Lo == n.Hi)
        {
            Delete(n.Lo);
        }
        else if (value == n.Lo)
        {
            n.Lo++;
        }
        else if (value == n.Hi)
        {
            n.Hi--;
        }
        else
        {
            var tail = new Node(value + 1, n.Hi, NextPriority());
            n.Hi = value - 1;
            Insert(tail);
        }

        return true;
    }

    /// <summary>Gives an address back, joining it with the intervals on either side.</summary>
    public void Release(UInt128 value)
    {
        var before = Floor(value);
        if (before is not null && before.Hi >= value)
        {
            return;
        }

        var after = value < UInt128.MaxValue ? Ceiling(value + 1) : null;
        var joinsAfter = after is not null && after.Lo == value + 1;
        if (before is not null && before.Hi == value - 1 && value > UInt128.Zero)
        {
            if (joinsAfter)
            {
                var hi = after!.Hi;
                Delete(after.Lo);
                before.Hi = hi;
            }
            else
            {
                before.Hi = value;
            }
        }
        else if (joinsAfter)
        {
            after!.Lo = value;
        }
        else
        {
            Insert(new Node(value, value, NextPriority()));
        }
    }

    private Node? Min()
    {
        var n = _root;
        while (n?.Left is not null)
        {
            n = n.Left;
        }

        return n;
    }

    /// <summary>The interval with the greatest start ≤ v.</summary>
    private Node? Floor(UInt128 v)
    {
        Node? best = null;
        var n = _root;
        while (n is not null)
        {
            if (n.Lo <= v)
            {
                best = n;
                n = n.Right;
            }
            else
            {
                n = n.Left;
            }
        }

        return best;
    }

    /// <summary>The interval with the least start ≥ v.</summary>
    private Node? Ceiling(UInt128 v)
    {
        Node? best = null;
        var n = _root;
        while (n is not null)
        {
            if (n.Lo >= v)
            {
                best = n;
                n = n.Left;
            }
            else
            {
                n = n.Right;
            }
        }

        return best;
    }

    private void Insert(Node node)
    {
        var (l, r) = Split(_root, node.Lo);
        _root = Merge(Merge(l, node), r);
        IntervalCount++;
    }

    private void Delete(UInt128 lo)
    {
        _root = Delete(_root, lo);
        IntervalCount--;
    }

    private static Node? Delete(Node? n, UInt128 lo)
    {
        if (n is null)
        {
            return null;
        }

        if (lo < n.Lo)
        {
            n.Left = Delete(n.Left, lo);
            return n;
        }

        if (lo > n.Lo)
        {
            n.Right = Delete(n.Right, lo);
            return n;
        }

        return Merge(n.Left, n.Right);
    }

    /// <summary>Splits into starts &lt; key and starts ≥ key.</summary>
    private static (Node? Left, Node? Right) Split(Node? n, UInt128 key)
    {
        if (n is null)
        {
            return (null, null);
        }

        if (n.Lo < key)
        {
            var (l, r) = Split(n.Right, key);
            n.Right = l;
            return (n, r);
        }
        else
        {
            var (l, r) = Split(n.Left, key);
            n.Left = r;
            return (l, n);
        }
    }

    private static Node? Merge(Node? a, Node? b)
    {
        if (a is null)
        {
            return b;
        }

        if (b is null)
        {
            return a;
        }

        if (a.Priority > b.Priority)
        {
            a.Right = Merge(a.Right, b);
            return a;
        }

        b.Left = Merge(a, b.Left);
        return b;
    }

    private uint NextPriority()
    {
        // xorshift32: a fixed seed keeps runs reproducible; treap balance only needs spread.
        _seed ^= _seed << 13;
        _seed ^= _seed >> 17;
        _seed ^= _seed << 5;
        return _seed;
    }

    /// <summary>First address at or after <paramref name="v"/> whose last octet is neither 0 nor 255.</summary>
    private static UInt128 SkipBuggy(UInt128 v)
    {
        var low = (byte)v;
        return low == 255 ? v + 2 : low == 0 ? v + 1 : v;
    }

    private sealed class Node(UInt128 lo, UInt128 hi, uint priority)
    {
        public UInt128 Lo { get; set; } = lo;

        public UInt128 Hi { get; set; } = hi;

        public uint Priority { get; } = priority;

        public Node? Left { get; set; }

        public Node? Right { get; set; }
    }
}
