namespace Extip.ApiServer.Storage;

/// <summary>A bounded history of events in resourceVersion order; the oldest falls out when full.</summary>
internal sealed class EventRing(int capacity)
{
    private readonly WatchEvent[] _ring = new WatchEvent[Math.Max(1, capacity)];
    private int _start;
    private int _count;

    public int Count => _count;

    public void Add(WatchEvent e, out WatchEvent? evicted)
    {
        evicted = null;
        if (_count == _ring.Length)
        {
            evicted = _ring[_start];
            _ring[_start] = e;
            _start = (_start + 1) % _ring.Length;
            return;
        }

        _ring[(_start + _count) % _ring.Length] = e;
        _count++;
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
        return newest;
    }
}
