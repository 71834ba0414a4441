using k8s;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Extip.Testing.Fixtures;

/// <summary>
/// A real kube-apiserver v1.20 with etcd, built from Debian's source package by
/// tools/real-apiserver (cached). Failing to build or start it fails the tests: CI has what it needs.
/// </summary>
public sealed class RealFixture : ClusterFixture
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"extip-real-{Guid.NewGuid():N}");

    public override bool IsReal => true;

    public override async Task InitializeAsync()
    {
        var port = FreePort();
        var script = Path.Combine(RepoRoot(), "tools", "real-apiserver", "start.sh");
        var psi = new ProcessStartInfo("bash", [script, _dir, port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = await p.StandardOutput.ReadToEndAsync();
        var stderr = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"the real kube-apiserver did not start (exit {p.ExitCode}):\n{stderr}\n{stdout}");
        }

        Kubeconfig = stdout.Trim().Split('\n')[^1];
        Connect();
    }

    public override async Task DisposeAsync()
    {
        var stop = Path.Combine(RepoRoot(), "tools", "real-apiserver", "stop.sh");
        using var p = Process.Start(new ProcessStartInfo("bash", [stop, _dir]))!;
        await p.WaitForExitAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// The real server's watch cache keeps events younger than 75 s however many there are; to
    /// make a resourceVersion too old, wait past that and then fill the cache so it evicts.
    /// </summary>
    public override async Task ExpireHistoryAsync(string ns)
    {
        var before = (await Client.CoreV1.ListNamespacedConfigMapAsync(ns)).Metadata.ResourceVersion;

        // Events right after `before` must age past 75 s, then be pushed out by newer ones: a
        // full cache whose oldest event is fresh grows instead of evicting.
        for (var i = 0; i < 50; i++)
        {
            await Client.CoreV1.CreateNamespacedConfigMapAsync(new k8s.Models.V1ConfigMap { Metadata = new() { Name = $"early-{i}" } }, ns);
        }

        await Task.Delay(TimeSpan.FromSeconds(80));
        for (var i = 0; i < 5000; i++)
        {
            await Client.CoreV1.CreateNamespacedConfigMapAsync(new k8s.Models.V1ConfigMap { Metadata = new() { Name = $"fill-{i}" } }, ns);
            if (i % 100 == 99 && await ExpiredAsync(ns, before))
            {
                return;
            }
        }

        throw new InvalidOperationException("the real server's watch cache never let go of the old resourceVersion");
    }

    private async Task<bool> ExpiredAsync(string ns, string rv)
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(Kubeconfig);
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        using var req = new HttpRequestMessage(HttpMethod.Get, $"{config.Host.TrimEnd('/')}/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1");
        req.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", config.AccessToken);
        using var res = await http.SendAsync(req);
        var body = await res.Content.ReadAsStringAsync();
        return body.StartsWith("{\"type\":\"ERROR\"", StringComparison.Ordinal) && body.Contains("\"code\":410", StringComparison.Ordinal);
    }

    public static int FreePort()
    {
        // etcd takes port+10000..10002, so stay below 55000.
        for (var i = 0; i < 100; i++)
        {
            var port = Random.Shared.Next(20000, 45000);
            if (Free(port) && Free(port + 10000) && Free(port + 10001) && Free(port + 10002))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no free port");
    }

    private static bool Free(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
