using System.Net;
using System.Text.Json.Nodes;
using Extip.ApiServer.Faults;
using Extip.ApiServer.Http;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Resources.Kinds;
using Extip.ApiServer.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Extip.ApiServer;

/// <summary>
/// The embedded Kubernetes API server: Kestrel on loopback, objects in memory (optionally kept in
/// a data directory), the real REST protocol, and fault injection. Used in-process by tests and
/// the lab, and by <c>extip apiserver</c>.
/// </summary>
public sealed class EmbeddedApiServer : IAsyncDisposable
{
    private readonly ApiServerOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private WebApplication? _app;
    private Persistence? _persistence;

    public EmbeddedApiServer(ApiServerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options ?? new ApiServerOptions();
        _loggerFactory = loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
        Store = new ObjectStore(_options.WatchHistory);
        Registry = new ResourceRegistry();
        Addressing = new ServiceAddressing(_options.ServiceCidr);
        Context = new ResourceContext { Store = Store, Services = Addressing, Registry = Registry };
        Faults = new FaultInjector(Store);
        foreach (var t in Builtins.All())
        {
            Registry.Register(t);
            Store.EnsureBucket(t);
        }
    }

    public ObjectStore Store { get; }

    public ResourceRegistry Registry { get; }

    public ServiceAddressing Addressing { get; }

    public ResourceContext Context { get; }

    public FaultInjector Faults { get; }

    /// <summary>http://127.0.0.1:PORT once started.</summary>
    public Uri Url { get; private set; } = new("http://127.0.0.1/");

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_options.DataDir is { } dir)
        {
            _persistence = new Persistence(dir, Store, Registry, Addressing);
            _persistence.Load();
        }

        Seed();
        var (host, port) = ParseListen(_options.Listen);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_loggerFactory);

        // Watches are endless requests: a stop gives them a second, then closes their connections.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(host, port);
            k.Limits.MaxRequestBodySize = 16 * 1024 * 1024;
            k.AddServerHeader = false;
        });
        _app = builder.Build();
        var admission = new Admission.WebhookAdmission(Store, Registry, _loggerFactory.CreateLogger<Admission.WebhookAdmission>());
        var handler = new ApiHandler(_options, Store, Registry, Context, Faults, admission, _loggerFactory.CreateLogger<ApiHandler>());
        _app.Run(handler.HandleAsync);
        await _app.StartAsync(cancellationToken);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Url = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal) + "/");
        _persistence?.Start();
    }

    /// <summary>Writes a kubeconfig that kubectl and KubernetesClient accept; returns its path.</summary>
    public string WriteKubeconfig(string path, string context = "extip")
    {
        var server = Url.ToString().TrimEnd('/');
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: {context}
              cluster:
                server: {server}
            users:
            - name: {context}
              user:
                token: extip-lab
            contexts:
            - name: {context}
              context:
                cluster: {context}
                user: {context}
                namespace: default
            current-context: {context}

            """);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        Store.DropAllWatches();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _persistence?.Dispose();
    }

    /// <summary>What a fresh cluster has: the four namespaces and the kubernetes Service.</summary>
    private void Seed()
    {
        var ns = Registry.Find(string.Empty, "v1", "namespaces")!;
        foreach (var name in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            Store.Mutate(ns, string.Empty, name, prev =>
            {
                if (prev is not null)
                {
                    return Mutation.Nothing;
                }

                var o = NewObject("v1", "Namespace", name, null);
                ns.Strategy.PrepareForCreate(Context, o);
                return Mutation.Put(o);
            });
        }

        var svc = Registry.Find(string.Empty, "v1", "services")!;
        Store.Mutate(svc, "default", "kubernetes", prev =>
        {
            if (prev is not null)
            {
                return Mutation.Nothing;
            }

            var o = NewObject("v1", "Service", "kubernetes", "default");
            o.Meta()["labels"] = new JsonObject { ["component"] = "apiserver", ["provider"] = "kubernetes" };
            var ip = Addressing.First.ToString();
            Addressing.ClaimClusterIp(ip);
            o["spec"] = new JsonObject
            {
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["protocol"] = "TCP", ["port"] = 443, ["targetPort"] = 6443 }),
                ["clusterIP"] = ip,
            };
            svc.Strategy.PrepareForCreate(Context, o);
            svc.Strategy.Allocate(Context, o, null).ToList();
            return Mutation.Put(o);
        });
    }

    private static JsonObject NewObject(string apiVersion, string kind, string name, string? ns)
    {
        var meta = new JsonObject { ["name"] = name };
        if (ns is not null)
        {
            meta["namespace"] = ns;
        }

        meta["uid"] = Guid.NewGuid().ToString();
        meta["creationTimestamp"] = JsonPath.Timestamp(DateTimeOffset.UtcNow);
        return new JsonObject { ["kind"] = kind, ["apiVersion"] = apiVersion, ["metadata"] = meta };
    }

    private static (IPAddress Host, int Port) ParseListen(string listen)
    {
        var colon = listen.LastIndexOf(':');
        var host = colon > 0 ? listen[..colon].Trim('[', ']') : "127.0.0.1";
        var port = colon > 0 ? int.Parse(listen[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture) : 0;
        return (host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(host), port);
    }
}
