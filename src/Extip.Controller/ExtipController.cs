using System.Net;
using Extip.Controller.Metrics;
using Extip.Core.Allocation;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Crds;
using Extip.Kubernetes.Election;
using Extip.Kubernetes.Events;
using Extip.Kubernetes.Http;
using Extip.Kubernetes.Models;
using k8s;
using k8s.LeaderElection;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Extip.Controller;

/// <summary>
/// The controller process: informers always running, a leader election on a Lease, and a
/// <see cref="ControllerSession"/> while leading. Standbys keep their caches warm and take over
/// within the lease duration. Serves /metrics, /healthz and /readyz when asked to.
/// </summary>
public sealed partial class ExtipController : IAsyncDisposable
{
    private readonly IKubernetes _client;
    private readonly ControllerOptions _options;
    private readonly ILoggerFactory _logs;
    private readonly ILogger _logger;
    private readonly ClusterView _view;
    private readonly EventRecorder _events;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];
    private ProbeServer? _http;
    private ControllerSession? _session;
    private CancellationTokenSource? _sessionStop;
    private Task? _sessionTask;
    private Webhook.ControllerWebhook? _webhook;

    public ExtipController(IKubernetes client, ControllerOptions options, ILoggerFactory? logs = null)
    {
        _client = client;
        _options = options;
        _logs = logs ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
        _logger = _logs.CreateLogger("extip.controller");
        _view = new ClusterView(client, options, _logs);
        _events = new EventRecorder(client, "extip-controller", _logs.CreateLogger("extip.events"), _options.Time);
    }

    public ControllerMetrics Metrics { get; } = new();

    public bool IsLeader => _session is not null;

    public bool IsReady => _prepared && _view.IsReady && (_session is null || _session.Reloaded);

    /// <summary>The address of the metrics/health endpoint once started (port 0 resolved).</summary>
    public Uri? MetricsUrl { get; private set; }

    /// <summary>The admission webhook's base URL once it serves (null without one).</summary>
    public Uri? WebhookUrl => _webhook?.Url;

    /// <summary>True once the webhook configuration points at this controller's webhook.</summary>
    public bool WebhookRegistered => _webhook?.Registered ?? false;

    /// <summary>What the leader's allocator holds, per Service (empty when not leading).</summary>
    public IReadOnlyDictionary<ServiceKey, IReadOnlyList<Assignment>> Assignments() =>
        _session?.Assignments() ?? new Dictionary<ServiceKey, IReadOnlyList<Assignment>>();

    public async Task StartAsync(CancellationToken ct = default)
    {
        // Start in any order: without the API server, the CRDs, the namespace and the heartbeat
        // key come once it answers; the controller is not ready until then.
        if (!await TryPrepareAsync(ct))
        {
            _running.Add(Task.Run(() => PrepareLoopAsync(_stop.Token), CancellationToken.None));
        }

        _running.AddRange(_view.Run(_stop.Token));
        _running.Add(_events.RunAsync(_stop.Token));
        if (_options.Metrics is { } listen)
        {
            StartHttp(listen);
        }

        if (_options.Webhook is { } webhook)
        {
            _webhook = new Webhook.ControllerWebhook(_client, _view, _options, webhook, _logs.CreateLogger("extip.webhook"));
            var w = _webhook;
            _running.Add(Task.Run(() => w.RunAsync(_stop.Token), CancellationToken.None));
        }

        if (_options.LeaderElection)
        {
            _running.Add(Task.Run(() => ElectAsync(_stop.Token), CancellationToken.None));
        }
        else
        {
            StartSession();
        }
    }

    private async Task ElectAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var lease = new ApiLeaseLock(_client, _options.Namespace, "extip-controller", _options.Identity);
            using var elector = new LeaderElector(new LeaderElectionConfig(lease)
            {
                LeaseDuration = _options.LeaseDuration,
                RenewDeadline = _options.RenewDeadline,
                RetryPeriod = _options.RetryPeriod,
            });
            elector.OnStartedLeading += StartSession;
            elector.OnStoppedLeading += StopSession;
            elector.OnNewLeader += leader => LogLeader(_logger, leader, _options.Identity);
            try
            {
                await elector.RunUntilLeadershipLostAsync(ct);
            }
#pragma warning disable CA1031 // The election loop must outlive any failure, or the controller never leads again.
            catch (Exception e)
#pragma warning restore CA1031
            {
                if (ct.IsCancellationRequested)
                {
                    break;
                }

                LogElection(_logger, $"{e.GetType().Name}: {e.Message}");
            }

            StopSession();
            try
            {
                await Task.Delay(_options.RetryPeriod, _options.Time, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private void StartSession()
    {
        if (_session is not null)
        {
            return;
        }

        _sessionStop = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        _session = new ControllerSession(_client, _view, _options, Metrics, _events, _logs.CreateLogger("extip.session"));
        Metrics.Leader.Set(1);
        LogLeading(_logger, _options.Identity);
        var session = _session;
        var token = _sessionStop.Token;
        _sessionTask = Task.Run(async () =>
        {
            try
            {
                await session.RunAsync(token);
            }
            catch (OperationCanceledException)
            {
            }
        }, CancellationToken.None);
    }

    private void StopSession()
    {
        if (_session is null)
        {
            return;
        }

        _sessionStop?.Cancel();
        _session = null;
        Metrics.Leader.Set(0);
        LogStopped(_logger, _options.Identity);
    }

    /// <summary>
    /// Its namespace, created only when missing (the manifests make it; the lab and a by-hand run
    /// may not): a cluster's RBAC grants the controller no namespace creation, so it asks first.
    /// </summary>
    private async Task EnsureNamespaceAsync(CancellationToken ct)
    {
        try
        {
            var existing = await _client.GetAsync<k8s.Models.V1Namespace>(ApiPath.Core("namespaces", name: _options.Namespace), ct);
            if (_options.Webhook is not null && existing.Metadata.Labels?.ContainsKey(Webhook.ControllerWebhook.NamespaceNameLabel) != true)
            {
                LogNoNamespaceLabel(_logger, _options.Namespace, Webhook.ControllerWebhook.NamespaceNameLabel);
            }

            return;
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound)
        {
        }

        try
        {
            await _client.CreateAsync(ApiPath.Core("namespaces"), new k8s.Models.V1Namespace
            {
                Metadata = new() { Name = _options.Namespace, Labels = new Dictionary<string, string> { [Webhook.ControllerWebhook.NamespaceNameLabel] = _options.Namespace } },
            }, ct);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.Forbidden)
        {
        }
    }

    private volatile bool _prepared;

    private async Task<bool> TryPrepareAsync(CancellationToken ct)
    {
        try
        {
            if (_options.InstallCrds)
            {
                await CrdInstaller.InstallAsync(_client, ct, _options.Time);
            }

            await EnsureNamespaceAsync(ct);
            await EnsurePeerKeyAsync(ct);
            _prepared = true;
            return true;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException
            || (e is k8s.Autorest.HttpOperationException h && (int)h.Response.StatusCode >= 500)
            || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            LogWaitingForApi(_logger, e.Message);
            return false;
        }
    }

    private async Task PrepareLoopAsync(CancellationToken ct)
    {
        var wait = TimeSpan.FromMilliseconds(250);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(wait, _options.Time, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (await TryPrepareAsync(ct))
            {
                return;
            }

            wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }

    [LoggerMessage(EventId = 404, Level = LogLevel.Warning, Message = "the API server does not answer yet ({Error}); trying again")]
    private static partial void LogWaitingForApi(ILogger logger, string error);

    /// <summary>The agents' heartbeat key: 32 random bytes, made once; an existing one is never replaced.</summary>
    private async Task EnsurePeerKeyAsync(CancellationToken ct)
    {
        try
        {
            await _client.CreateAsync(ApiPath.Core("secrets", _options.Namespace), new k8s.Models.V1Secret
            {
                Metadata = new() { Name = ExtipApi.PeerKeySecret, Labels = new Dictionary<string, string> { [ExtipApi.ComponentLabel] = "controller" } },
                Type = "Opaque",
                Data = new Dictionary<string, byte[]> { [ExtipApi.PeerKeyField] = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32) },
            }, ct);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.Forbidden)
        {
        }
    }

    private void StartHttp(string listen)
    {
        var endpoint = Extip.Core.Addresses.ListenAddress.Parse(listen, "--metrics");
        _http = ProbeServer.Start(endpoint, new Dictionary<string, Func<CancellationToken, ValueTask<ProbeResponse>>>
        {
            ["/healthz"] = _ => ValueTask.FromResult(ProbeResponse.Text("ok")),
            ["/readyz"] = _ => ValueTask.FromResult(IsReady ? ProbeResponse.Text("ok") : ProbeResponse.Text("informers not synced", 503)),
            ["/metrics"] = ct => ProbeResponse.MetricsAsync(Metrics.Registry, ct),
        });
        MetricsUrl = _http.Url;
    }

    public async ValueTask DisposeAsync()
    {
        StopSession();
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll([.. _running, _sessionTask ?? Task.CompletedTask]).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }

        if (_http is not null)
        {
            await _http.DisposeAsync();
        }

        if (_webhook is not null)
        {
            await _webhook.DisposeAsync();
        }

        _stop.Dispose();
        _sessionStop?.Dispose();
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "{Identity} is the leader")]
    private static partial void LogLeading(ILogger logger, string identity);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "{Identity} stopped leading")]
    private static partial void LogStopped(ILogger logger, string identity);

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "leader is {Leader} (this is {Identity})")]
    private static partial void LogLeader(ILogger logger, string leader, string identity);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "leader election: {Error}")]
    private static partial void LogElection(ILogger logger, string error);

    [LoggerMessage(EventId = 405, Level = LogLevel.Warning, Message = "namespace {Namespace} has no label {Label}: the webhook cannot tell its Leases from the cluster's, so no agent's Lease write is held to its own node's (label it as deploy/base does)")]
    private static partial void LogNoNamespaceLabel(ILogger logger, string @namespace, string label);
}
