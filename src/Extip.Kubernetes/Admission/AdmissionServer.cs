using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Extip.Kubernetes.Admission;

/// <summary>One AdmissionReview request, as a validating webhook receives it.</summary>
public sealed class AdmissionRequest(JsonObject request)
{
    public JsonObject Raw { get; } = request;

    public string Operation => Raw["operation"]?.GetValue<string>() ?? string.Empty;

    public string Namespace => Raw["namespace"]?.GetValue<string>() ?? string.Empty;

    public string Name => Raw["name"]?.GetValue<string>() ?? string.Empty;

    public string Kind => Raw["kind"]?["kind"]?.GetValue<string>() ?? string.Empty;

    public string? SubResource => Raw["subResource"]?.GetValue<string>();

    public JsonObject? Object => Raw["object"] as JsonObject;

    public JsonObject? OldObject => Raw["oldObject"] as JsonObject;

    /// <summary>Who asks: userInfo.username.</summary>
    public string UserName => Raw["userInfo"]?["username"]?.GetValue<string>() ?? string.Empty;

    /// <summary>The first value of userInfo.extra[<paramref name="key"/>], or null.</summary>
    public string? UserExtra(string key) =>
        Raw["userInfo"]?["extra"]?[key] is JsonArray { Count: > 0 } values ? values[0]?.GetValue<string>() : null;
}

/// <summary>A webhook's answer: allowed, or refused with a message (and the HTTP code the API server answers with).</summary>
public sealed record AdmissionVerdict(bool Allowed, string? Message = null, int Code = 403, IReadOnlyList<string>? Warnings = null)
{
    public static AdmissionVerdict Allow { get; } = new(true);

    public static AdmissionVerdict Deny(string message, int code = 403) => new(false, message, code);
}

/// <summary>
/// A validating admission webhook server: HTTPS (the certificate is asked for on every
/// handshake, so a rotated one is served at once), one handler per path, AdmissionReview v1
/// and v1beta1 answered in the version asked. A handler that throws refuses nothing: the
/// answer is a 500, and the webhook's failurePolicy decides.
/// </summary>
public sealed partial class AdmissionServer : IAsyncDisposable
{
    private readonly Func<X509Certificate2> _certificate;
    private readonly IReadOnlyDictionary<string, Func<AdmissionRequest, CancellationToken, ValueTask<AdmissionVerdict>>> _handlers;
    private readonly ILogger _logger;
    private readonly IPEndPoint _listen;
    private WebApplication? _app;

    public AdmissionServer(IPEndPoint listen, Func<X509Certificate2> certificate, IReadOnlyDictionary<string, Func<AdmissionRequest, AdmissionVerdict>> handlers, ILogger? logger = null)
        : this(listen, certificate, handlers.ToDictionary(h => h.Key, h => Async(h.Value), StringComparer.Ordinal), logger)
    {
    }

    /// <summary>With handlers that may ask the API server before they answer.</summary>
    public AdmissionServer(IPEndPoint listen, Func<X509Certificate2> certificate, IReadOnlyDictionary<string, Func<AdmissionRequest, CancellationToken, ValueTask<AdmissionVerdict>>> handlers, ILogger? logger = null)
    {
        _listen = listen;
        _certificate = certificate;
        _handlers = handlers;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>A synchronous handler as an asynchronous one.</summary>
    public static Func<AdmissionRequest, CancellationToken, ValueTask<AdmissionVerdict>> Async(Func<AdmissionRequest, AdmissionVerdict> handler) =>
        (request, _) => ValueTask.FromResult(handler(request));

    /// <summary>https://ADDRESS:PORT once started (port 0 resolved).</summary>
    public Uri Url { get; private set; } = new("https://127.0.0.1/");

    /// <summary>How many reviews it answered, for tests and metrics.</summary>
    public long Reviews => Interlocked.Read(ref _reviews);

    private long _reviews;

    public async Task StartAsync(CancellationToken ct = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 8 * 1024 * 1024;
            k.Listen(_listen, l => l.UseHttps(new HttpsConnectionAdapterOptions { ServerCertificateSelector = (_, _) => _certificate() }));
        });
        _app = builder.Build();
        _app.Run(HandleAsync);
        await _app.StartAsync(ct);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address.Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "localhost", StringComparison.Ordinal)).Port;
        var host = _listen.Address.Equals(IPAddress.Any) || _listen.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1"
            : _listen.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{_listen.Address}]" : _listen.Address.ToString();
        Url = new Uri($"https://{host}:{port}/");
    }

    private async Task HandleAsync(HttpContext http)
    {
        if (http.Request.Path == "/healthz")
        {
            await http.Response.WriteAsync("ok");
            return;
        }

        if (http.Request.Method != "POST" || !_handlers.TryGetValue(http.Request.Path.Value ?? "/", out var handler))
        {
            http.Response.StatusCode = 404;
            return;
        }

        JsonObject? review;
        try
        {
            review = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted) as JsonObject;
        }
        catch (JsonException e)
        {
            http.Response.StatusCode = 400;
            await http.Response.WriteAsync($"not an AdmissionReview: {e.Message}");
            return;
        }

        if (review?["request"] is not JsonObject request)
        {
            http.Response.StatusCode = 400;
            await http.Response.WriteAsync("not an AdmissionReview: no request");
            return;
        }

        AdmissionVerdict verdict;
        try
        {
            verdict = await handler(new AdmissionRequest(request), http.RequestAborted);
        }
#pragma warning disable CA1031 // A failing handler must answer; the failure policy decides what the API server does.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogHandlerFailed(_logger, e, http.Request.Path.Value ?? "/");
            http.Response.StatusCode = 500;
            await http.Response.WriteAsync($"the webhook failed: {e.Message}");
            return;
        }

        Interlocked.Increment(ref _reviews);
        var response = new JsonObject { ["uid"] = request["uid"]?.DeepClone(), ["allowed"] = verdict.Allowed };
        if (!verdict.Allowed)
        {
            response["status"] = new JsonObject
            {
                ["code"] = verdict.Code,
                ["message"] = verdict.Message ?? string.Empty,
                ["reason"] = verdict.Code == 403 ? "Forbidden" : verdict.Code == 422 ? "Invalid" : "BadRequest",
            };
        }

        if (verdict.Warnings is { Count: > 0 } warnings)
        {
            response["warnings"] = new JsonArray(warnings.Select(w => (JsonNode?)w).ToArray());
        }

        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["apiVersion"] = review["apiVersion"]?.DeepClone() ?? "admission.k8s.io/v1",
            ["kind"] = "AdmissionReview",
            ["response"] = response,
        }));
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "admission handler for {Path} failed")]
    private static partial void LogHandlerFailed(ILogger logger, Exception e, string path);
}
