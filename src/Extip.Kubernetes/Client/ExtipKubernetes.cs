using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using k8s;
using k8s.Models;

namespace Extip.Kubernetes.Client;

/// <summary>
/// The official client, with a watch that extip reads itself. KubernetesClient's watch turns the
/// stream's lines into objects through reflection over its generic watcher types, which the Native
/// AOT binary's trimmer removes (watches then deliver nothing); this watch sends the request
/// through the client's own pipeline (credentials, TLS name, handlers, the same errors) and reads
/// each event with the compile-time metadata of <see cref="Models.ExtipJson"/>.
/// </summary>
public class ExtipKubernetes : k8s.Kubernetes
{
    public ExtipKubernetes(KubernetesClientConfiguration config, params DelegatingHandler[] handlers)
        : base(config, handlers)
    {
    }

    /// <summary>
    /// Watches a collection (<paramref name="path"/> relative to the server, e.g. <c>api/v1/services</c>)
    /// from <paramref name="resourceVersion"/>: one event per line until the server ends the
    /// watch. An ERROR event (410 Gone among them: the version is forgotten) throws
    /// <see cref="Informers.WatchExpiredException"/>, so the informer relists.
    /// </summary>
    public async IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync<T>(
        string path,
        string resourceVersion,
        Func<string, T> read,
        string? labelSelector = null,
        string? fieldSelector = null,
        int timeoutSeconds = 300,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        var query = new StringBuilder("?watch=true&allowWatchBookmarks=true");
        query.Append("&timeoutSeconds=").Append(timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        query.Append("&resourceVersion=").Append(Uri.EscapeDataString(resourceVersion));
        if (!string.IsNullOrEmpty(labelSelector))
        {
            query.Append("&labelSelector=").Append(Uri.EscapeDataString(labelSelector));
        }

        if (!string.IsNullOrEmpty(fieldSelector))
        {
            query.Append("&fieldSelector=").Append(Uri.EscapeDataString(fieldSelector));
        }

        var baseUri = BaseUri.AbsoluteUri.EndsWith('/') ? BaseUri.AbsoluteUri : BaseUri.AbsoluteUri + "/";
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri + path.TrimStart('/') + query));
        request.Headers.Accept.ParseAdd("application/json");

        // The client's own send: credentials, the TLS server name, its handlers, and an
        // HttpOperationException for a status that is not a success (404 before a CRD exists).
        using var response = await SendRequestRaw(string.Empty, request, ct).ConfigureAwait(false);
        using (request)
        {
            await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }

                var (type, raw) = ParseEvent(line);
                yield return (type, read(raw));
            }
        }
    }

    /// <summary>An object's JSON read with <see cref="Models.ExtipJson.Api"/>.</summary>
    public static T Read<T>(string json) => Models.ExtipJson.Deserialize<T>(json);

    /// <summary>
    /// One request to <paramref name="path"/> (relative to the server), its body written and the
    /// answer read with <see cref="Models.ExtipJson.Api"/>. It goes through the client's own send, as its
    /// generated operations do (HTTP/2 where the server offers it, credentials, handlers, an
    /// <see cref="k8s.Autorest.HttpOperationException"/> for a status that is not a success, the
    /// configuration's timeout: 100 s unless set), without their serializer.
    /// </summary>
    public async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var timeout = Timeout(ct);
        using var response = await SendCoreAsync(method, path, body, timeout.Token).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
        return await Models.ExtipJson.DeserializeAsync<T>(stream, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>The same request, its answer not read.</summary>
    public async Task SendAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var timeout = Timeout(ct);
        using var unused = await SendCoreAsync(method, path, body, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>The clock of the requests' timeout.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    private Extip.Core.Concurrency.Deadline Timeout(CancellationToken ct) => new(Time, HttpClientTimeout, ct);

    private async Task<HttpResponseMessage> SendCoreAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        var request = new HttpRequestMessage(method, new Uri(BaseUri, path.TrimStart('/'))) { Version = System.Net.HttpVersion.Version20 };
        string content = string.Empty;
        if (body is not null)
        {
            (content, var type) = body is V1Patch patch
                ? ((string)patch.Content, patch.Type switch
                {
                    V1Patch.PatchType.JsonPatch => "application/json-patch+json",
                    V1Patch.PatchType.MergePatch => "application/merge-patch+json",
                    V1Patch.PatchType.StrategicMergePatch => "application/strategic-merge-patch+json",
                    V1Patch.PatchType.ApplyPatch => "application/apply-patch+yaml",
                    _ => throw new ArgumentException($"patch type {patch.Type} is not one the API server takes", nameof(body)),
                })
                : (Models.ExtipJson.Serialize(body), "application/json");
            request.Content = new StringContent(content, Encoding.UTF8);
            request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(type + "; charset=utf-8");
        }

        using (request)
        {
            return await SendRequestRaw(content, request, ct).ConfigureAwait(false);
        }
    }

    /// <summary>One line of a watch stream: its type and its object's JSON.</summary>
    public static (WatchEventType Type, string Object) ParseEvent(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        var typeName = root.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (!root.TryGetProperty("object", out var obj) || obj.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException($"watch event without an object: {Shorten(line)}");
        }

        var type = typeName switch
        {
            "ADDED" => WatchEventType.Added,
            "MODIFIED" => WatchEventType.Modified,
            "DELETED" => WatchEventType.Deleted,
            "BOOKMARK" => WatchEventType.Bookmark,
            "ERROR" => WatchEventType.Error,
            _ => throw new JsonException($"watch event of unknown type \"{typeName}\": {Shorten(line)}"),
        };
        if (type == WatchEventType.Error)
        {
            var message = obj.TryGetProperty("message", out var m) ? m.GetString() : null;
            var code = obj.TryGetProperty("code", out var c) && c.TryGetInt32(out var n) ? n : 0;
            throw new Informers.WatchExpiredException($"watch failed: {code} {message}");
        }

        return (type, obj.GetRawText());
    }

    private static string Shorten(string line) => line.Length <= 200 ? line : line[..200] + "…";
}
