using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Extip.ApiServer.Faults;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Extip.ApiServer.Http;

/// <summary>
/// Serves the Kubernetes REST protocol: discovery, resources (CRUD, patch, watch), tables, and
/// the fault-injection admin endpoints. One handler for every path, parsed as the real server
/// parses request paths.
/// </summary>
public sealed partial class ApiHandler(ApiServerOptions options, ObjectStore store, ResourceRegistry registry, ResourceContext context, FaultInjector faults, Admission.WebhookAdmission admission, ILogger logger) : IAsyncDisposable
{
    private NamespaceFinalizer? _finalizer;

    private NamespaceFinalizer Finalizer => LazyInitializer.EnsureInitialized(ref _finalizer, () => new NamespaceFinalizer(store, registry, (t, ns, name) => DeleteOne(t, ns, name, null, false), options.Time, logger));

    /// <summary>Stops (and awaits) the namespace finalizations under way.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_finalizer is { } f)
        {
            await f.DisposeAsync().ConfigureAwait(false);
        }
    }

    private readonly Authorization.TokenAuthenticator _authenticator = new(options.Token ?? throw new ArgumentException("the server's token is not set", nameof(options)), options.TokenFile);
    private readonly Authorization.ServiceAccountTokens _serviceAccountTokens = new(options.Token!, store, registry, options.Time);
    private readonly Authorization.RbacAuthorizer? _rbac = options.Authorization == AuthorizationMode.RBAC ? new(store, registry) : null;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public async Task HandleAsync(HttpContext http)
    {
        try
        {
            if (faults.Latency > TimeSpan.Zero && !http.Request.Path.StartsWithSegments("/_extip"))
            {
                await Task.Delay(faults.Latency, http.RequestAborted);
            }

            Authenticate(http);
            await DispatchAsync(http);
        }
        catch (ApiException e)
        {
            await WriteStatusAsync(http, e);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == 413)
        {
            // Kestrel's body limit, as kube-apiserver's MaxRequestBodyBytes answers it.
            await WriteStatusAsync(http, Errors.TooLarge($"limit is {options.MaxRequestBodyBytes}"));
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            await WriteStatusAsync(http, Errors.BadRequest(e.Message));
        }
#pragma warning disable CA1031 // The server answers every failure as a Status; nothing may escape as an empty 500.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogUnexpected(logger, e, http.Request.Method, http.Request.Path);
            await WriteStatusAsync(http, new ApiException(500, "InternalError", $"Internal error occurred: {e.Message}"));
        }
    }

    private static readonly string[] PublicPaths = ["/healthz", "/livez", "/readyz", "/version"];

    /// <summary>
    /// Bearer-token authentication (issue 12): everything but the health and version endpoints
    /// (which kube-apiserver also serves to anonymous clients) needs a known token, the
    /// fault-injection admin endpoints included. Under RBAC the user must then be allowed the
    /// request, judged from its path alone as kube-apiserver does (403 before 404).
    /// </summary>
    private void Authenticate(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "/";
        if (PublicPaths.Any(p => path == p || path.StartsWith(p + "/", StringComparison.Ordinal)))
        {
            return;
        }

        var header = http.Request.Headers.Authorization.ToString();
        var user = _authenticator.Authenticate(header)
            ?? (header.StartsWith("Bearer ", StringComparison.Ordinal) ? _serviceAccountTokens.Authenticate(header["Bearer ".Length..].Trim()) : null)
            ?? throw new ApiException(401, "Unauthorized", "Unauthorized");
        http.Items[UserItem] = user;
        if (_rbac is null)
        {
            return;
        }

        var request = Authorization.RequestAttributes.From(http.Request.Method, path, QueryValues.Bool(http.Request.Query, "watch"));
        if (!_rbac.Allowed(user, request))
        {
            throw Errors.Forbidden(request, user);
        }
    }

    private async Task DispatchAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "/";
        var segs = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segs.Length > 0 && segs[0] == "_extip")
        {
            await AdminAsync(http, segs);
            return;
        }

        switch (segs)
        {
            case []:
                await WriteJsonAsync(http, 200, new JsonObject { ["paths"] = new JsonArray("/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version") });
                return;
            case ["healthz" or "livez" or "readyz", ..]:
                http.Response.ContentType = "text/plain; charset=utf-8";
                await http.Response.WriteAsync("ok");
                return;
            case ["version"]:
                await WriteJsonAsync(http, 200, VersionInfo());
                return;
            case ["openapi", ..]:
                await OpenApiAsync(http, segs);
                return;
            case ["api"]:
                await WriteJsonAsync(http, 200, ApiVersions());
                return;
            case ["apis"]:
                await WriteJsonAsync(http, 200, ApiGroupList());
                return;
            case ["api", var v]:
                await ResourceListAsync(http, string.Empty, v);
                return;
            case ["apis", var g]:
                await GroupAsync(http, g);
                return;
            case ["apis", var g, var v]:
                await ResourceListAsync(http, g, v);
                return;
            case ["api", var v, .. var rest]:
                await ResourceAsync(http, string.Empty, v, rest);
                return;
            case ["apis", var g, var v, .. var rest]:
                await ResourceAsync(http, g, v, rest);
                return;
            default:
                throw Errors.ResourceNotFound();
        }
    }

    private async Task ResourceAsync(HttpContext http, string group, string version, string[] rest)
    {
        var q = http.Request.Query;
        var watch = QueryValues.Bool(q, "watch");
        var info = RequestInfo.Parse(registry, group, version, rest, http.Request.Method, watch) ?? throw Errors.ResourceNotFound();
        if (info.Subresource == "token" && IsTokenRequest(info.Type) && info.Name is not null)
        {
            await TokenRequestAsync(http, info);
            return;
        }

        if (info.Subresource is not null and not "status")
        {
            throw Errors.ResourceNotFound();
        }

        if (info.Subresource == "status" && !info.Type.HasStatus)
        {
            throw Errors.ResourceNotFound();
        }

        if (faults.TryConsume(info.Verb, info.Type.Plural, out var injected))
        {
            throw Errors.Injected(injected, info.Verb, info.Type.Plural);
        }

        if (IsReview(info.Type))
        {
            await ReviewAsync(http, info);
            return;
        }

        switch (info.Verb)
        {
            case "get":
                await GetAsync(http, info);
                break;
            case "list":
                await ListAsync(http, info);
                break;
            case "watch":
                await LimitedWatchAsync(http, info);
                break;
            case "create":
                if (info.Name is not null)
                {
                    throw Errors.MethodNotAllowed("create");
                }

                await CreateAsync(http, info);
                break;
            case "update":
                await UpdateAsync(http, info);
                break;
            case "patch":
                await PatchAsync(http, info);
                break;
            case "delete":
                await DeleteAsync(http, info);
                break;
            case "deletecollection":
                await DeleteCollectionAsync(http, info);
                break;
            default:
                throw Errors.MethodNotAllowed(info.Verb);
        }
    }

    internal static async Task WriteStatusAsync(HttpContext http, ApiException e)
    {
        if (http.Response.HasStarted)
        {
            return;
        }

        if (e.RetryAfterSeconds is { } retry && e.Code is 429 or 503 or 504)
        {
            http.Response.Headers.RetryAfter = retry.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        await WriteJsonAsync(http, e.Code, e.ToStatus());
    }

    private int _watches;

    /// <summary>At most <see cref="ApiServerOptions.MaxWatches"/> watches at once; more get 429 with Retry-After (issue 12).</summary>
    private async Task LimitedWatchAsync(HttpContext http, RequestInfo info)
    {
        if (Interlocked.Increment(ref _watches) > options.MaxWatches)
        {
            Interlocked.Decrement(ref _watches);
            throw new ApiException(429, "TooManyRequests", "Too many requests, please try again later.") { RetryAfterSeconds = 1 };
        }

        try
        {
            await WatchAsync(http, info);
        }
        finally
        {
            Interlocked.Decrement(ref _watches);
        }
    }

    internal static async Task WriteJsonAsync(HttpContext http, int status, JsonNode node)
    {
        if (await TryWriteProtobufAsync(http, status, () => node as JsonObject))
        {
            return;
        }

        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(node, Indented));
    }

    internal static async Task WriteBytesAsync(HttpContext http, int status, byte[] json)
    {
        if (await TryWriteProtobufAsync(http, status, () => JsonNode.Parse(json) as JsonObject))
        {
            return;
        }

        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        http.Response.ContentLength = json.Length;
        await http.Response.Body.WriteAsync(json);
    }

    /// <summary>
    /// Protobuf for a client that prefers it (its Accept names it first, as client-go and kubectl
    /// do for built-in kinds), when the object has a message and fits it whole; otherwise the
    /// client gets JSON, which it accepts too. Errors always go as JSON Status.
    /// </summary>
    private static async Task<bool> TryWriteProtobufAsync(HttpContext http, int status, Func<JsonObject?> body)
    {
        if (status >= 300 || !PrefersProtobuf(http.Request.Headers.Accept.ToString()) || body() is not { } obj || Protobuf.KubeProtobuf.TryEncode(obj) is not { } bytes)
        {
            return false;
        }

        http.Response.StatusCode = status;
        http.Response.ContentType = Protobuf.KubeProtobuf.MediaType;
        http.Response.ContentLength = bytes.Length;
        await http.Response.Body.WriteAsync(bytes);
        return true;
    }

    /// <summary>Is protobuf the first media type of the Accept header (not a Table or metadata view)?</summary>
    internal static bool PrefersProtobuf(string accept)
    {
        var first = accept.Split(',')[0];
        var parts = first.Split(';');
        return parts[0].Trim().Equals(Protobuf.KubeProtobuf.MediaType, StringComparison.OrdinalIgnoreCase)
            && !parts.Skip(1).Any(p => p.Trim().StartsWith("as=", StringComparison.Ordinal));
    }

    private async Task<JsonNode?> ReadBodyAsync(HttpContext http, string? expectYamlType = null)
    {
        var bytes = await ReadLimitedAsync(http);
        var contentType = http.Request.ContentType ?? "application/json";
        if (contentType.Contains("protobuf", StringComparison.OrdinalIgnoreCase))
        {
            return DecodeProtobuf(bytes, contentType);
        }

        var text = Encoding.UTF8.GetString(bytes);

        if (contentType.Contains("yaml", StringComparison.OrdinalIgnoreCase) || expectYamlType is not null)
        {
            var trimmed = text.TrimStart();
            if (!trimmed.StartsWith('{') && !trimmed.StartsWith('['))
            {
                return Extip.Core.Yaml.YamlJson.First(text);
            }
        }

        try
        {
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            var snippet = text.Length > 32 ? text[..32] + " ..." : text;
            throw Errors.BadRequest($"the object provided is unrecognized: couldn't get version/kind; json parse error: {e.Message} ({snippet})");
        }
    }

    /// <summary>
    /// The body as text, at most <see cref="ApiServerOptions.MaxRequestBodyBytes"/>. A longer one
    /// is read to its end and dropped, then refused with 413: the client, still sending, gets the
    /// answer rather than a reset connection.
    /// </summary>
    private static JsonObject DecodeProtobuf(byte[] bytes, string contentType)
    {
        if (!Protobuf.KubeProtobuf.HasMagic(bytes))
        {
            throw Errors.BadRequest("the object provided is unrecognized: provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]");
        }

        try
        {
            // Through text, so that its values are read exactly as those of a JSON body are.
            return JsonNode.Parse(Protobuf.KubeProtobuf.Decode(bytes).ToJsonString())!.AsObject();
        }
        catch (Protobuf.ProtobufKindException e)
        {
            // Custom resources and kinds without a message: JSON only, as on kube-apiserver.
            throw new ApiException(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (not {contentType.Split(';')[0].Trim()}): {e.Message}");
        }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or Protobuf.ProtobufException or JsonException)
        {
            throw Errors.BadRequest($"the object provided is unrecognized: {e.Message}");
        }
    }

    private async Task<byte[]> ReadLimitedAsync(HttpContext http)
    {
        var limit = options.MaxRequestBodyBytes;
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            total += n;
            if (total <= limit)
            {
                buffer.Write(chunk, 0, n);
            }
        }

        if (total > limit)
        {
            throw Errors.TooLarge($"limit is {limit}");
        }

        return buffer.ToArray();
    }

    private static string FieldManager(HttpContext http)
    {
        var m = http.Request.Query["fieldManager"].ToString();
        if (m.Length > 0)
        {
            return m;
        }

        var ua = http.Request.Headers.UserAgent.ToString();
        var slash = ua.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 ? ua[..slash] : ua.Length > 0 ? ua : "unknown";
    }

    private static bool DryRun(HttpContext http) => http.Request.Query["dryRun"].ToString() == "All";

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "unexpected failure serving {Method} {Path}")]
    private static partial void LogUnexpected(ILogger logger, Exception e, string method, string? path);
}
