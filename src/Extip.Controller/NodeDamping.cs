namespace Extip.Controller;

/// <summary>
/// Route-flap damping for nodes. A node whose agent comes back (live again after it was not, or
/// new after the controller's first look) gets no new claims until it has stayed live for its
/// hold-down; a node that comes back within <see cref="HoldDownOptions.FlapWindow"/> of its last
/// return has flapped, and its hold-down doubles, up to <see cref="HoldDownOptions.Max"/>. The
/// nodes live at the controller's first look are settled: a restarted controller holds nothing back.
/// </summary>
internal sealed class NodeDamping(TimeProvider time, HoldDownOptions options)
{
    private readonly Dictionary<string, State> _nodes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private bool _looked;

    /// <summary>Records the live agents of a pass.</summary>
    public void Observe(IReadOnlySet<string> live)
    {
        ArgumentNullException.ThrowIfNull(live);
        var now = time.GetTimestamp();
        lock (_gate)
        {
            foreach (var node in live)
            {
                if (!_nodes.TryGetValue(node, out var s))
                {
                    // Live at the first look: settled, and never seen returning.
                    _nodes[node] = _looked ? new State(true, now + Ticks(options.Base), options.Base, now) : new State(true, now, options.Base, null);
                }
                else if (!s.Live)
                {
                    var flapped = s.LastReturn is { } last && time.GetElapsedTime(last, now) < options.FlapWindow;
                    var hold = flapped ? Min(s.Hold * 2, options.Max) : options.Base;
                    _nodes[node] = new State(true, now + Ticks(hold), hold, now);
                }
            }

            foreach (var (node, s) in _nodes.ToList())
            {
                if (s.Live && !live.Contains(node))
                {
                    _nodes[node] = s with { Live = false };
                }
            }

            _looked = true;
        }
    }

    /// <summary>The live nodes still in their hold-down, and how long until the first of them settles.</summary>
    public (HashSet<string> Settling, TimeSpan? Next) Settling()
    {
        var now = time.GetTimestamp();
        var settling = new HashSet<string>(StringComparer.Ordinal);
        TimeSpan? next = null;
        if (options.Base <= TimeSpan.Zero)
        {
            return (settling, next);
        }

        lock (_gate)
        {
            foreach (var (node, s) in _nodes)
            {
                if (s.Live && s.SettledAt > now)
                {
                    settling.Add(node);
                    var left = time.GetElapsedTime(now, s.SettledAt);
                    next = next is null || left < next ? left : next;
                }
            }
        }

        return (settling, next);
    }

    /// <summary>A node's current hold-down (for its status and tests).</summary>
    public TimeSpan? HoldDown(string node)
    {
        lock (_gate)
        {
            return _nodes.TryGetValue(node, out var s) ? s.Hold : null;
        }
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private sealed record State(bool Live, long SettledAt, TimeSpan Hold, long? LastReturn);
}

/// <summary>How long a returning node waits before it gets new claims, and how flapping lengthens that.</summary>
public sealed record HoldDownOptions
{
    /// <summary>The hold-down of a node that comes back once; zero turns damping off.</summary>
    public TimeSpan Base { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The longest hold-down, however often a node flaps.</summary>
    public TimeSpan Max { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A return within this long of the node's previous return is a flap: the hold-down doubles.</summary>
    public TimeSpan FlapWindow { get; init; } = TimeSpan.FromSeconds(60);
}
