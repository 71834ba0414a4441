using System.Diagnostics;
using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

public sealed partial class ApiHandler
{
    private enum Shape
    {
        Object,
        Table,
        Metadata,
    }

    private static Shape Wanted(HttpContext http)
    {
        var accept = http.Request.Headers.Accept.ToString();
        if (accept.Contains("as=Table", StringComparison.Ordinal))
        {
            return Shape.Table;
        }

        return accept.Contains("as=PartialObjectMetadata", StringComparison.Ordinal) ? Shape.Metadata : Shape.Object;
    }

    private async Task GetAsync(HttpContext http, RequestInfo info)
    {
        var stored = store.Get(info.Type, info.Namespace ?? string.Empty, info.Name!) ?? throw Errors.NotFound(info.Type, info.Name!);
        switch (Wanted(http))
        {
            case Shape.Table:
                await WriteJsonAsync(http, 200, Table(http, info.Type, [stored], stored.ResourceVersion, null, null, withColumns: true));
                break;
            case Shape.Metadata:
                await WriteJsonAsync(http, 200, PartialMetadata(Served(info.Type, stored)));
                break;
            default:
                await WriteBytesAsync(http, 200, ServedBytes(info.Type, stored));
                break;
        }
    }

    private async Task ListAsync(HttpContext http, RequestInfo info)
    {
        var q = http.Request.Query;
        var filter = Filter(http, info);
        var limit = Math.Max(0, QueryValues.Long(q, "limit") ?? 0);
        string? startAfter = null;
        long? continueRv = null;
        if (q["continue"].ToString() is { Length: > 0 } token)
        {
            (startAfter, continueRv) = DecodeContinue(token);
        }

        var (items, rv, next, remaining) = store.List(info.Type, filter, limit, startAfter);
        rv = continueRv ?? rv;
        var cont = next is null ? null : EncodeContinue(next, rv);
        switch (Wanted(http))
        {
            case Shape.Table:
                await WriteJsonAsync(http, 200, Table(http, info.Type, items, rv, cont, next is null ? null : remaining, withColumns: true));
                return;
            case Shape.Metadata:
                await WriteJsonAsync(http, 200, new JsonObject
                {
                    ["kind"] = "PartialObjectMetadataList",
                    ["apiVersion"] = "meta.k8s.io/v1",
                    ["metadata"] = ListMeta(rv, cont, next is null ? null : remaining),
                    ["items"] = new JsonArray(items.Select(i => (JsonNode)PartialMetadata(Served(info.Type, i))).ToArray()),
                });
                return;
        }

        // Items are written from their cached bytes: no re-serialization of every object.
        using var ms = new MemoryStream();
        var head = new JsonObject
        {
            ["kind"] = info.Type.ListKind,
            ["apiVersion"] = info.Type.GroupVersion,
            ["metadata"] = ListMeta(rv, cont, next is null ? null : remaining),
        }.ToJsonString();
        ms.Write(Encoding.UTF8.GetBytes(head[..^1] + ",\"items\":["));
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                ms.WriteByte((byte)',');
            }

            ms.Write(ServedBytes(info.Type, items[i]));
        }

        ms.Write("]}"u8);
        await WriteBytesAsync(http, 200, ms.ToArray());
    }

    private static JsonObject ListMeta(long rv, string? cont, long? remaining)
    {
        var meta = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) };
        if (cont is not null)
        {
            meta["continue"] = cont;
            if (remaining is { } r)
            {
                meta["remainingItemCount"] = r;
            }
        }

        return meta;
    }

    private static string EncodeContinue(string key, long rv) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject { ["v"] = "meta.k8s.io/v1", ["rv"] = rv, ["start"] = key }.ToJsonString()));

    private static (string Start, long Rv) DecodeContinue(string token)
    {
        try
        {
            var o = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(token)))!.AsObject();
            return (o.Str("start")!, o["rv"]!.GetValue<long>());
        }
        catch (Exception e) when (e is FormatException or JsonException or NullReferenceException or InvalidOperationException)
        {
            throw Errors.BadRequest($"continue key is not valid: {e.Message}");
        }
    }

    private ListFilter Filter(HttpContext http, RequestInfo info)
    {
        var q = http.Request.Query;
        var labels = Selectors.ParseLabels(q["labelSelector"]);
        var fields = Selectors.ParseFields(q["fieldSelector"], info.Type).ToList();
        string? ns = info.Namespace;

        // A field selector on metadata.namespace narrows an all-namespaces request too.
        return new ListFilter(ns, labels, fields);
    }

    private JsonObject Table(HttpContext http, ResourceType type, IReadOnlyList<StoredObject> items, long rv, string? cont, long? remaining, bool withColumns)
    {
        var include = http.Request.Query["includeObject"].ToString();
        var now = DateTimeOffset.UtcNow;
        var table = new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = ListMeta(rv, cont, remaining),
            ["columnDefinitions"] = withColumns ? new JsonArray(type.Table.Columns.Select(c => (JsonNode)c.ToJson()).ToArray()) : new JsonArray(),
        };
        var rows = new JsonArray();
        foreach (var item in items)
        {
            var served = Served(type, item);
            var row = new JsonObject { ["cells"] = type.Table.Cells(served, now) };
            row["object"] = include switch
            {
                "None" => null,
                "Object" => served.DeepClone(),
                _ => PartialMetadata(served),
            };
            rows.Add(row);
        }

        table["rows"] = rows;
        return table;
    }

    private static JsonObject PartialMetadata(JsonObject obj) => new()
    {
        ["kind"] = "PartialObjectMetadata",
        ["apiVersion"] = "meta.k8s.io/v1",
        ["metadata"] = obj["metadata"]?.DeepClone(),
    };

    /// <summary>The object as this version shows it.</summary>
    private static JsonObject Served(ResourceType type, StoredObject stored) =>
        type.Converter is { } c ? c.FromStorage(stored.Object) : stored.Object;

    private static byte[] ServedBytes(ResourceType type, StoredObject stored) =>
        type.Converter is { } c ? JsonSerializer.SerializeToUtf8Bytes(c.FromStorage(stored.Object)) : stored.Json;

    private async Task WatchAsync(HttpContext http, RequestInfo info)
    {
        var q = http.Request.Query;
        var filter = Filter(http, info);
        if (info.Name is not null)
        {
            filter = filter with { Fields = [.. filter.Fields, .. Selectors.ParseFields($"metadata.name={info.Name}", info.Type)] };
        }

        long? fromRv = null;
        var rvText = q["resourceVersion"].ToString();
        if (rvText.Length > 0)
        {
            if (!long.TryParse(rvText, NumberStyles.None, CultureInfo.InvariantCulture, out var rv))
            {
                throw Errors.BadRequest($"resourceVersion: Invalid value: \"{rvText}\": must be a valid resource version");
            }

            fromRv = rv;
        }

        var timeout = QueryValues.Long(q, "timeoutSeconds") is { } ts and > 0 ? TimeSpan.FromSeconds(Math.Min(ts, int.MaxValue)) : options.DefaultWatchTimeout;
        var bookmarks = QueryValues.Bool(q, "allowWatchBookmarks");
        var shape = Wanted(http);

        // A watch from a version newer than the store waits a little for it, as the real server does.
        if (fromRv is { } want && want > store.CurrentResourceVersion)
        {
            for (var i = 0; i < 30 && want > store.CurrentResourceVersion; i++)
            {
                await Task.Delay(100, http.RequestAborted);
            }
        }

        http.Response.StatusCode = 200;
        http.Response.ContentType = "application/json";
        Watcher watcher;
        List<WatchEvent> initial;
        try
        {
            if (fromRv is { } future && future > store.CurrentResourceVersion)
            {
                throw new ApiException(504, "Timeout", $"Too large resource version: {future}, current: {store.CurrentResourceVersion}") { RetryAfterSeconds = 1 };
            }

            (watcher, initial) = store.Watch(info.Type, filter, fromRv);
        }
        catch (ApiException e)
        {
            // Once past parsing, the real server reports watch errors as an ERROR event in a 200 stream.
            await http.Response.Body.WriteAsync(EventBytes(WatchEventType.Error, JsonSerializer.SerializeToUtf8Bytes(e.ToStatus())));
            return;
        }

        using var timer = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, http.RequestAborted);
        var columnsSent = false;
        try
        {
            await http.Response.StartAsync(linked.Token);
            var writer = http.Response.BodyWriter;
            foreach (var e in initial)
            {
                writer.Write(EventLine(http, info.Type, e, shape, ref columnsSent));
            }

            await writer.FlushAsync(linked.Token);
            var lastBookmark = DateTimeOffset.UtcNow;
            var lastWrite = 0L;
            while (!linked.IsCancellationRequested)
            {
                var wait = bookmarks ? options.BookmarkInterval - (DateTimeOffset.UtcNow - lastBookmark) : Timeout.InfiniteTimeSpan;
                if (bookmarks && wait <= TimeSpan.Zero)
                {
                    writer.Write(EventBytes(WatchEventType.Bookmark, Bookmark(info.Type, store.CurrentResourceVersion)));
                    await writer.FlushAsync(linked.Token);
                    lastBookmark = DateTimeOffset.UtcNow;
                    continue;
                }

                using var waitCts = CancellationTokenSource.CreateLinkedTokenSource(linked.Token);
                if (wait != Timeout.InfiniteTimeSpan)
                {
                    waitCts.CancelAfter(wait);
                }

                bool more;
                try
                {
                    more = await watcher.Events.WaitToReadAsync(waitCts.Token);
                }
                catch (OperationCanceledException) when (!linked.IsCancellationRequested)
                {
                    continue;
                }

                if (!more)
                {
                    break;
                }

                // In a burst (the last write was just now), let more events gather first.
                var sinceWrite = Stopwatch.GetElapsedTime(lastWrite);
                if (sinceWrite < options.WatchCoalesce)
                {
                    await Task.Delay(options.WatchCoalesce - sinceWrite, linked.Token);
                }

                // Drain what is queued before one flush: under load, many events per write.
                while (watcher.Events.TryRead(out var e))
                {
                    writer.Write(EventLine(http, info.Type, e, shape, ref columnsSent));
                }

                await writer.FlushAsync(linked.Token);
                lastWrite = Stopwatch.GetTimestamp();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            store.StopWatch(watcher);
        }
    }

    private byte[] EventLine(HttpContext http, ResourceType type, WatchEvent e, Shape shape, ref bool columnsSent)
    {
        if (shape == Shape.Object && type.Converter is null)
        {
            return e.Wire(EventBytes);
        }

        byte[] obj;
        if (shape == Shape.Table)
        {
            var t = Table(http, type, [e.Object], e.ResourceVersion, null, null, withColumns: !columnsSent);
            columnsSent = true;
            obj = JsonSerializer.SerializeToUtf8Bytes(t);
        }
        else if (shape == Shape.Metadata)
        {
            obj = JsonSerializer.SerializeToUtf8Bytes(PartialMetadata(Served(type, e.Object)));
        }
        else
        {
            obj = ServedBytes(type, e.Object);
        }

        return EventBytes(e.Type, obj);
    }

    private static byte[] EventBytes(string type, byte[] obj)
    {
        var prefix = type switch
        {
            WatchEventType.Added => "{\"type\":\"ADDED\",\"object\":"u8,
            WatchEventType.Modified => "{\"type\":\"MODIFIED\",\"object\":"u8,
            WatchEventType.Deleted => "{\"type\":\"DELETED\",\"object\":"u8,
            WatchEventType.Bookmark => "{\"type\":\"BOOKMARK\",\"object\":"u8,
            _ => "{\"type\":\"ERROR\",\"object\":"u8,
        };
        var bytes = new byte[prefix.Length + obj.Length + 2];
        prefix.CopyTo(bytes);
        obj.CopyTo(bytes, prefix.Length);
        bytes[^2] = (byte)'}';
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    private static byte[] Bookmark(ResourceType type, long rv) => JsonSerializer.SerializeToUtf8Bytes(new JsonObject
    {
        ["kind"] = type.Kind,
        ["apiVersion"] = type.GroupVersion,
        ["metadata"] = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture), ["creationTimestamp"] = null },
    });
}
