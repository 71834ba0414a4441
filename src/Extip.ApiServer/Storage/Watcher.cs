using System.Threading.Channels;

namespace Extip.ApiServer.Storage;

/// <summary>
/// One open watch: events matching its filter are queued for the HTTP writer. A watcher that
/// falls too far behind is closed, as the real server drops slow watchers; its client re-watches.
/// </summary>
public sealed class Watcher
{
    private readonly Channel<WatchEvent> _events;

    internal Watcher(string bucket, ListFilter filter, int capacity)
    {
        Bucket = bucket;
        Filter = filter;
        _events = Channel.CreateBounded<WatchEvent>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });
    }

    public string Bucket { get; }

    public ListFilter Filter { get; }

    public ChannelReader<WatchEvent> Events => _events.Reader;

    /// <summary>Why the server ended this watch, when it did (dropped by a fault, too slow, resource deleted).</summary>
    public string? ClosedBecause { get; private set; }

    /// <summary>Queues the event as this watcher should see it; false when the watcher is closed.</summary>
    internal bool Offer(WatchEvent e)
    {
        var nowMatches = Filter.Matches(e.Object);
        var wasMatching = e.Previous is not null && Filter.Matches(e.Previous);
        WatchEvent? seen = e.Type switch
        {
            WatchEventType.Modified when nowMatches && !wasMatching => e with { Type = WatchEventType.Added },

            // Leaving the selection: a DELETED with the content that matched, at the event's version (as the real watch cache does).
            WatchEventType.Modified when !nowMatches && wasMatching => e with { Type = WatchEventType.Deleted, Object = e.Previous!.WithResourceVersion(e.ResourceVersion) },
            _ when nowMatches => e,
            _ => null,
        };
        if (seen is null)
        {
            return true;
        }

        if (_events.Writer.TryWrite(seen))
        {
            return true;
        }

        Close("the watcher fell too far behind");
        return false;
    }

    internal void Close(string why)
    {
        ClosedBecause ??= why;
        _events.Writer.TryComplete();
    }
}
