namespace Extip.ApiServer.Storage;

/// <summary>
/// A bounded history of events in resourceVersion order, by count and by bytes (issue 12: big
/// objects deleted long ago must not stay in memory through their events); the oldest fall out.
/// </summary>
internal sealed class EventRing(int capacity, long maxBytes = long.MaxValue)
{
    private readonly WatchEvent[] _ring = new WatchEvent[Math.Max(1, capacity)];
    private int _start;
    private int _count;
    private long _bytes;

    public int Count => _count;

    public long Bytes => _bytes;

    /// <summary>Adds an event; <paramref name="evicted"/> is the newest event that fell out, if any.</summary>
    public void Add(WatchEvent e, out WatchEvent? evicted)
    {
        evicted = null;
        if (_count == _ring.Length)
        {
            evicted = RemoveOldest();
        }

        _ring[(_start + _count) % _ring.Length] = e;
        _count++;
        _bytes += Size(e);
        while (_bytes > maxBytes && _count > 1)
        {
            evicted = RemoveOldest();
        }
    }

    /// <summary>What an event holds: its object, the previous one, and the wire line it caches (about its object's size).</summary>
    private static long Size(WatchEvent e) => (2L * e.Object.Json.Length) + (e.Previous?.Json.Length ?? 0);

    private WatchEvent RemoveOldest()
    {
        var oldest = _ring[_start];
        _ring[_start] = null!;
        _start = (_start + 1) % _ring.Length;
        _count--;
        _bytes -= Size(oldest);
        return oldest;
    }

    /// <summary>Events with resourceVersion greater than <paramref name="rv"/>, oldest first.</summary>
    public IEnumerable<WatchEvent> Since(long rv)
    {
        for (var i = 0; i < _count; i++)
        {
            var e = _ring[(_start + i) % _ring.Length];
            if (e.ResourceVersion > rv)
            {
                yield return e;
            }
        }
    }

    /// <summary>Drops everything (compaction); returns the newest resourceVersion dropped, if any.</summary>
    public long? Clear()
    {
        long? newest = _count == 0 ? null : _ring[(_start + _count - 1) % _ring.Length].ResourceVersion;
        Array.Clear(_ring);
        _start = 0;
        _count = 0;
        _bytes = 0;
        return newest;
    }
}
