namespace Extip.ApiServer.Storage;

public static class WatchEventType
{
    public const string Added = "ADDED";
    public const string Modified = "MODIFIED";
    public const string Deleted = "DELETED";
    public const string Bookmark = "BOOKMARK";
    public const string Error = "ERROR";
}

/// <summary>A change to one object. <see cref="Previous"/> lets a filtered watch see an object leave or enter its selector.</summary>
public sealed record WatchEvent(string Type, long ResourceVersion, StoredObject Object, StoredObject? Previous)
{
    private byte[]? _wire;

    /// <summary>
    /// The event as one line of a JSON watch stream, built once and shared by every watcher that
    /// sees the event unchanged (a hundred watchers do not mean a hundred copies).
    /// </summary>
    public byte[] Wire(Func<string, byte[], byte[]> build) =>
        _wire ?? Interlocked.CompareExchange(ref _wire, build(Type, Object.Json), null) ?? _wire!;
}
