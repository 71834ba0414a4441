using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Resources;

namespace Extip.ApiServer.Storage;

/// <summary>
/// All objects in memory, one bucket per resource, with one global resourceVersion counter.
/// Writes are serialized under one lock, which makes read-modify-write and optimistic
/// concurrency checks simple and exact; every write appends an event to the bucket's bounded
/// history and hands it to the bucket's watchers.
/// </summary>
public sealed partial class ObjectStore
{
    private readonly Lock _gate = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly int _historyCapacity;
    private readonly int _watcherCapacity;
    private long _rv;

    private readonly long _historyBytes;
    private readonly int _maxObjectBytes;

    public ObjectStore(int historyCapacity = 5000, int watcherCapacity = 200_000, long initialResourceVersion = 1, long historyBytes = long.MaxValue, int maxObjectBytes = int.MaxValue)
    {
        _historyBytes = historyBytes;
        _maxObjectBytes = maxObjectBytes;
        _historyCapacity = historyCapacity;
        _watcherCapacity = watcherCapacity;
        _rv = initialResourceVersion;
    }

    /// <summary>Raised after every write, outside no lock guarantees: used by persistence.</summary>
    public event Action? Changed;

    public long CurrentResourceVersion
    {
        get
        {
            lock (_gate)
            {
                return _rv;
            }
        }
    }

    public void EnsureBucket(ResourceType type)
    {
        lock (_gate)
        {
            BucketOf(type);
        }
    }

    /// <summary>Removes a resource and everything in it (a CRD was deleted); its watchers are closed.</summary>
    public void DropBucket(ResourceType type)
    {
        lock (_gate)
        {
            if (_buckets.TryRemove(BucketKey(type), out var b))
            {
                foreach (var w in b.Watchers)
                {
                    w.Close("the resource was removed");
                }
            }
        }
    }

    /// <summary>Lock-free: point reads go to a concurrent index kept beside the ordered map.</summary>
    public StoredObject? Get(ResourceType type, string ns, string name) =>
        _buckets.TryGetValue(BucketKey(type), out var b) ? b.Index.GetValueOrDefault(StoredObject.StoreKey(ns, name)) : null;

    public int Count(ResourceType type)
    {
        lock (_gate)
        {
            return BucketOf(type).Objects.Count;
        }
    }

    /// <summary>
    /// Lists in key order (namespace, then name), from <paramref name="startAfter"/>, at most
    /// <paramref name="limit"/> items (0 = all). Returns the items, the list's resourceVersion,
    /// the key to continue from and how many items remain.
    /// </summary>
    public (List<StoredObject> Items, long ResourceVersion, string? Next, long Remaining) List(ResourceType type, ListFilter filter, long limit, string? startAfter)
    {
        lock (_gate)
        {
            var bucket = BucketOf(type);
            var items = new List<StoredObject>();
            string? next = null;
            long remaining = 0;
            IEnumerable<KeyValuePair<string, StoredObject>> source = bucket.Objects;
            if (startAfter is not null)
            {
                source = bucket.Objects.Where(kv => string.CompareOrdinal(kv.Key, startAfter) > 0);
            }

            foreach (var (key, obj) in source)
            {
                if (!filter.Matches(obj))
                {
                    continue;
                }

                if (limit > 0 && items.Count >= limit)
                {
                    next ??= items[^1].Key;
                    remaining++;
                    continue;
                }

                items.Add(obj);
                _ = key;
            }

            return (items, _rv, next, remaining);
        }
    }

    /// <summary>
    /// The one write primitive: under the store lock, <paramref name="change"/> sees the stored
    /// object (or null) and returns the object to store, or null to delete it. It may throw
    /// an <see cref="ApiException"/> to refuse. Returns the stored result and the event type.
    /// </summary>
    public (StoredObject? Result, StoredObject? Previous, string? EventType) Mutate(ResourceType type, string ns, string name, Func<StoredObject?, Mutation> change)
    {
        StoredObject? result;
        StoredObject? previous;
        string? eventType;
        lock (_gate)
        {
            var bucket = BucketOf(type);
            var key = StoredObject.StoreKey(ns, name);
            previous = bucket.Objects.GetValueOrDefault(key);
            var m = change(previous);
            switch (m.Kind)
            {
                case MutationKind.None:
                    return (previous, previous, null);
                case MutationKind.Put:
                    var rv = _rv + 1;
                    var obj = m.Object!;
                    ((JsonObject)obj["metadata"]!)["resourceVersion"] = rv.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    result = new StoredObject(obj, rv);
                    if (result.Json.Length > _maxObjectBytes)
                    {
                        // etcd refuses such a request; kube-apiserver answers 413 (issue 12).
                        throw Errors.TooLarge($"etcdserver: request is too large ({result.Json.Length} bytes; an object may take {_maxObjectBytes})");
                    }

                    _rv = rv;
                    bucket.Objects[key] = result;
                    bucket.Index[key] = result;
                    eventType = previous is null ? WatchEventType.Added : WatchEventType.Modified;
                    Publish(bucket, new WatchEvent(eventType, rv, result, previous));
                    break;
                default:
                    if (previous is null)
                    {
                        return (null, null, null);
                    }

                    var drv = ++_rv;
                    var gone = m.Object ?? previous.Copy();
                    ((JsonObject)gone["metadata"]!)["resourceVersion"] = drv.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    result = new StoredObject(gone, drv);
                    bucket.Objects.Remove(key);
                    bucket.Index.TryRemove(key, out _);
                    eventType = WatchEventType.Deleted;
                    Publish(bucket, new WatchEvent(eventType, drv, result, previous));
                    break;
            }
        }

        Changed?.Invoke();
        return (result, previous, eventType);
    }

    /// <summary>Every object of every resource, for persistence.</summary>
    public List<(string Bucket, StoredObject Object)> Snapshot()
    {
        lock (_gate)
        {
            return _buckets.SelectMany(b => b.Value.Objects.Values.Select(o => (b.Key, o))).ToList();
        }
    }

    /// <summary>Loads objects at start (persistence); no events are published.</summary>
    public void Load(ResourceType type, JsonObject obj)
    {
        lock (_gate)
        {
            var rv = long.TryParse(obj["metadata"]?["resourceVersion"]?.GetValue<string>(), out var v) ? v : ++_rv;
            _rv = Math.Max(_rv, rv);
            var so = new StoredObject(obj, rv);
            var bucket = BucketOf(type);
            bucket.Objects[so.Key] = so;
            bucket.Index[so.Key] = so;
            bucket.OldestValidRv = _rv;
        }
    }

    private static string BucketKey(ResourceType type) => type.Bucket;

    private Bucket BucketOf(ResourceType type)
    {
        var key = BucketKey(type);
        if (!_buckets.TryGetValue(key, out var b))
        {
            b = new Bucket(_historyCapacity, _historyBytes) { OldestValidRv = _rv };
            _buckets[key] = b;
        }

        return b;
    }

    private static void Publish(Bucket bucket, WatchEvent e)
    {
        bucket.History.Add(e, out var evicted);
        if (evicted is not null)
        {
            bucket.OldestValidRv = evicted.ResourceVersion;
        }

        for (var i = bucket.Watchers.Count - 1; i >= 0; i--)
        {
            if (!bucket.Watchers[i].Offer(e))
            {
                bucket.Watchers.RemoveAt(i);
            }
        }
    }

    private sealed class Bucket(int capacity, long bytes)
    {
        public SortedDictionary<string, StoredObject> Objects { get; } = new(StringComparer.Ordinal);

        public System.Collections.Concurrent.ConcurrentDictionary<string, StoredObject> Index { get; } = new(StringComparer.Ordinal);

        public EventRing History { get; } = new(capacity, bytes);

        /// <summary>A watch may start from any resourceVersion ≥ this one.</summary>
        public long OldestValidRv { get; set; }

        public List<Watcher> Watchers { get; } = [];
    }
}

public enum MutationKind
{
    None,
    Put,
    Delete,
}

/// <summary>What a write decided: store this object, delete (optionally with a final state), or nothing.</summary>
public readonly record struct Mutation(MutationKind Kind, JsonObject? Object)
{
    public static Mutation Put(JsonObject obj) => new(MutationKind.Put, obj);

    public static Mutation Delete(JsonObject? finalState = null) => new(MutationKind.Delete, finalState);

    public static readonly Mutation Nothing = new(MutationKind.None, null);
}
