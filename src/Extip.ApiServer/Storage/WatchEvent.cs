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
public sealed record WatchEvent(string Type, long ResourceVersion, StoredObject Object, StoredObject? Previous);
