namespace Extip.Agent.Peers;

/// <summary>
/// What this agent heard from its peers, on its own clock: for each peer and each local
/// interface it was heard through, the latest moment the peer reached the API server and since
/// when it has done so without a break (arrival minus the ages the peer reported). Answers the
/// fencing question "could the controller now count me dead?": it does when another agent has
/// renewed without a break for half a Lease since this one's last renewal; then this node is the
/// one cut off and someone can take over.
/// </summary>
public sealed class PeerWitness(TimeProvider time, string self)
{
    /// <summary>Allowance for the time a heartbeat spends on the wire, which makes a peer's contact look later than it was.</summary>
    public static readonly TimeSpan Transit = TimeSpan.FromMilliseconds(50);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, (ulong Boot, ulong Sequence)> _sequences = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Node, string Interface), (long Reached, long Streak)> _reached = [];
    private readonly Dictionary<string, long> _heard = new(StringComparer.Ordinal);

    /// <summary>Raised (outside the lock) after a heartbeat changed what is known.</summary>
    public event Action? Changed;

    /// <summary>Peers heard from within <paramref name="window"/>.</summary>
    public int PeersHeard(TimeSpan window)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            return _heard.Values.Count(at => time.GetElapsedTime(at, now) <= window);
        }
    }

    /// <summary>Whether <paramref name="node"/> was heard from within <paramref name="window"/>.</summary>
    public bool Heard(string node, TimeSpan window)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            return _heard.TryGetValue(node, out var at) && time.GetElapsedTime(at, now) <= window;
        }
    }

    /// <summary>Records a verified heartbeat that arrived through <paramref name="arrivedOn"/>; false for our own, a replay, or an older one.</summary>
    public bool Accept(Heartbeat beat, string arrivedOn)
    {
        ArgumentNullException.ThrowIfNull(beat);
        if (beat.Node == self)
        {
            return false;
        }

        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (_sequences.TryGetValue(beat.Node, out var last) && last.Boot == beat.Boot && beat.Sequence <= last.Sequence)
            {
                return false;
            }

            _sequences[beat.Node] = (beat.Boot, beat.Sequence);
            _heard[beat.Node] = now;
            if (beat.ApiAge is { } age)
            {
                var reached = now - (long)(age.TotalSeconds * time.TimestampFrequency);
                var streak = beat.StreakAge is { } s ? Math.Min(reached, now - (long)(s.TotalSeconds * time.TimestampFrequency)) : reached;
                var key = (beat.Node, arrivedOn);
                if (!_reached.TryGetValue(key, out var before) || reached > before.Reached)
                {
                    _reached[key] = (reached, streak);
                }
            }
        }

        Changed?.Invoke();
        return true;
    }

    /// <summary>
    /// A peer that has reached the API server without a break for at least <paramref name="streak"/>
    /// after <paramref name="lastReached"/> (when this agent last reached it, a timestamp of this
    /// clock), heard through an interface that <paramref name="through"/> accepts; null if none.
    /// A peer merely back first from the same outage has not: its streak starts after this
    /// agent's loss and must last before the controller counts this agent dead.
    /// </summary>
    public string? ConfirmsLoss(long lastReached, TimeSpan streak, Func<string, bool> through)
    {
        ArgumentNullException.ThrowIfNull(through);
        var allowance = (long)(Transit.TotalSeconds * time.TimestampFrequency);
        var need = (long)(streak.TotalSeconds * time.TimestampFrequency);
        lock (_gate)
        {
            foreach (var ((node, iface), (reached, since)) in _reached)
            {
                if (reached - allowance > lastReached && reached - allowance - Math.Max(lastReached, since) >= need && through(iface))
                {
                    return node;
                }
            }
        }

        return null;
    }
}
