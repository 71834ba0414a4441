using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Extip.ApiServer.Faults;
using Extip.ApiServer.Http;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Resources.Kinds;
using Extip.ApiServer.Storage;
using Extip.Core.Security;
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
    private ApiServerOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private WebApplication? _app;
    private ApiHandler? _handler;
    private Persistence? _persistence;

    public EmbeddedApiServer(ApiServerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options ?? new ApiServerOptions();
        _loggerFactory = loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
        Store = new ObjectStore(_options.WatchHistory, historyBytes: _options.WatchHistoryBytes, maxObjectBytes: _options.MaxObjectBytes);
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

    /// <summary>The bearer token clients must send (set once started).</summary>
    public string Token { get; private set; } = string.Empty;

    /// <summary>What it listens on, as bound (0.0.0.0 stays 0.0.0.0).</summary>
    public Uri Bound { get; private set; } = new("https://127.0.0.1/");

    /// <summary>https://127.0.0.1:PORT once started (a wildcard listen is reached on loopback).</summary>
    public Uri Url { get; private set; } = new("https://127.0.0.1/");

    /// <summary>The CA that signed the serving certificate, as PEM: what clients trust (the kubeconfig carries it).</summary>
    public string CaCertificatePem => _pki?.CaCert ?? throw new InvalidOperationException("not started");

    /// <summary>The CA as a collection, for KubernetesClientConfiguration.SslCaCerts and HttpClient validation.</summary>
    public X509Certificate2Collection Authority()
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPem(CaCertificatePem);
        return roots;
    }

    private Pki? _pki;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_options.DataDir is { } dir)
        {
            _persistence = new Persistence(dir, Store, Registry, Addressing);
            _persistence.Load();
        }

        Seed();
        var (host, port) = ParseListen(_options.Listen);
        if (!IPAddress.IsLoopback(host) && !_options.AllowRemote)
        {
            throw new ArgumentException($"--listen {_options.Listen}: not a loopback address; the embedded API server serves Secrets and fault injection, so listening beyond this machine needs --allow-remote");
        }

        Token = _options.Token ?? StoredToken(_options.DataDir);
        _options = _options with { Token = Token };

        // TLS, as kube-apiserver: kubectl (client-go) sends a bearer token only over TLS.
        _pki = ServingPki(_options.DataDir, host);
        using var serving = _pki.Serving();
        var certificate = X509CertificateLoader.LoadPkcs12(serving.Export(X509ContentType.Pkcs12), null);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_loggerFactory);

        // Watches are endless requests: a stop gives them a second, then closes their connections.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(host, port, l => l.UseHttps(certificate));
            // Bodies up to four times the limit are read and refused with a clean 413 (ReadLimitedAsync); beyond, Kestrel cuts them off.
            k.Limits.MaxRequestBodySize = Math.Max(_options.MaxRequestBodyBytes * 4, 16L * 1024 * 1024);
            k.AddServerHeader = false;
        });
        _app = builder.Build();
        var admission = new Admission.WebhookAdmission(Store, Registry, _loggerFactory.CreateLogger<Admission.WebhookAdmission>());
        var handler = _handler = new ApiHandler(_options, Store, Registry, Context, Faults, admission, _loggerFactory.CreateLogger<ApiHandler>());
        _app.Run(handler.HandleAsync);
        await _app.StartAsync(cancellationToken);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Bound = new Uri(address + "/");
        Url = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal) + "/");
        _persistence?.Start();
    }

    /// <summary>Writes a kubeconfig that kubectl and KubernetesClient accept; returns its path.</summary>
    public string WriteKubeconfig(string path, string context = "extip")
    {
        var server = Url.ToString().TrimEnd('/');
        PrivateFiles.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: {context}
              cluster:
                server: {server}
                certificate-authority-data: {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(CaCertificatePem))}
            users:
            - name: {context}
              user:
                token: {Token}
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

        if (_handler is not null)
        {
            await _handler.DisposeAsync();
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

    /// <summary>
    /// The CA and serving certificate: made at start, or kept in the data directory (0600) so that
    /// a kubeconfig written before a restart still trusts the server. Names loopback, localhost,
    /// this host and, when listening on one address, that address.
    /// </summary>
    private static Pki ServingPki(string? dataDir, IPAddress listen)
    {
        var path = dataDir is null ? null : Path.Combine(dataDir, "pki.json");
        if (path is not null && File.Exists(path))
        {
            var kept = JsonNode.Parse(File.ReadAllText(path));
            if (kept.Str("caCert") is { } caCert && kept.Str("caKey") is { } caKey && kept.Str("cert") is { } cert && kept.Str("key") is { } key)
            {
                var pki = new Pki(caCert, caKey, cert, key);
                if (pki.NotAfter > DateTimeOffset.UtcNow.AddDays(1) && pki.Names(listen))
                {
                    return pki;
                }
            }
        }

        var addresses = new List<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
        if (!listen.Equals(IPAddress.Any) && !listen.Equals(IPAddress.IPv6Any))
        {
            addresses.Add(listen);
        }
        else
        {
            addresses.AddRange(System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(i => i.GetIPProperties().UnicastAddresses).Select(u => u.Address).Where(a => !a.IsIPv6LinkLocal));
        }

        var made = Certificates.Create(["localhost", Dns.GetHostName()], addresses.Distinct(), DateTimeOffset.UtcNow, TimeSpan.FromDays(3650), TimeSpan.FromDays(3650), "extip-apiserver");
        if (path is not null)
        {
            PrivateFiles.Directory(dataDir!);
            PrivateFiles.WriteAllText(path, new JsonObject { ["caCert"] = made.CaCert, ["caKey"] = made.CaKey, ["cert"] = made.Cert, ["key"] = made.Key }.ToJsonString());
        }

        return made;
    }

    /// <summary>A random token, kept (0600) in the data directory when there is one.</summary>
    private static string StoredToken(string? dataDir)
    {
        var fresh = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        if (dataDir is null)
        {
            return fresh;
        }

        PrivateFiles.Directory(dataDir);
        var path = Path.Combine(dataDir, "token");
        if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: >= 16 } kept)
        {
            return kept;
        }

        PrivateFiles.WriteAllText(path, fresh);
        return fresh;
    }

    private static (IPAddress Host, int Port) ParseListen(string listen)
    {
        var endpoint = Extip.Core.Addresses.ListenAddress.Parse(listen, "--listen");
        return (endpoint.Address, endpoint.Port);
    }
}
