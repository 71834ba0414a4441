using Extip.ApiServer.Http;
using Extip.ApiServer.Resources;

namespace Extip.ApiServer.Storage;

public sealed partial class ObjectStore
{
    /// <summary>
    /// Opens a watch. <paramref name="fromRv"/> null or 0: synthetic ADDED events for what exists
    /// now, then changes. Otherwise the changes after that version, or 410 Expired when the history
    /// no longer reaches back that far.
    /// </summary>
    public (Watcher Watcher, List<WatchEvent> Initial) Watch(ResourceType type, ListFilter filter, long? fromRv)
    {
        lock (_gate)
        {
            var bucket = BucketOf(type);
            var initial = new List<WatchEvent>();
            if (fromRv is null or 0)
            {
                foreach (var o in bucket.Objects.Values)
                {
                    if (filter.Matches(o))
                    {
                        initial.Add(new WatchEvent(WatchEventType.Added, o.ResourceVersion, o, null));
                    }
                }
            }
            else
            {
                if (fromRv < bucket.OldestValidRv)
                {
                    throw Errors.Expired(fromRv.Value, bucket.OldestValidRv);
                }

                var probe = new Watcher(BucketKey(type), filter, int.MaxValue);
                foreach (var e in bucket.History.Since(fromRv.Value))
                {
                    probe.Offer(e);
                }

                while (probe.Events.TryRead(out var e))
                {
                    initial.Add(e);
                }
            }

            var w = new Watcher(BucketKey(type), filter, _watcherCapacity);
            bucket.Watchers.Add(w);
            return (w, initial);
        }
    }

    public void StopWatch(Watcher w)
    {
        lock (_gate)
        {
            if (_buckets.TryGetValue(w.Bucket, out var b))
            {
                b.Watchers.Remove(w);
            }
        }

        w.Close("stopped");
    }

    /// <summary>Fault injection: ends every open watch, as an API server restart or a network cut would.</summary>
    public int DropAllWatches()
    {
        lock (_gate)
        {
            var n = 0;
            foreach (var b in _buckets.Values)
            {
                foreach (var w in b.Watchers)
                {
                    w.Close("dropped by fault injection");
                    n++;
                }

                b.Watchers.Clear();
            }

            return n;
        }
    }

    /// <summary>Fault injection: forgets all history, so any watch from an older version gets 410 Expired.</summary>
    public void Compact()
    {
        lock (_gate)
        {
            foreach (var b in _buckets.Values)
            {
                b.History.Clear();
                b.OldestValidRv = _rv;
            }
        }
    }

    public int WatcherCount
    {
        get
        {
            lock (_gate)
            {
                return _buckets.Values.Sum(b => b.Watchers.Count);
            }
        }
    }
}
