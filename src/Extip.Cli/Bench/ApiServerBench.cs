using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using k8s;
using k8s.Models;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench apiserver</c>: starts <c>extip apiserver</c> as its own process, opens W raw
/// watch streams on a namespace, then creates N Services through KubernetesClient with a few
/// requests in flight. Each Service carries its send time; a watcher's delivery latency is the
/// time from that send until its line arrives. The server's peak RSS is read from /proc.
/// </summary>
internal static class ApiServerBench
{
    private const string Ns = "bench";

    /// <summary>What one server did under the load.</summary>
    private sealed record LoadResult(double CreatesPerSec, double P50, double P99, double PeakRssMb, double RssAfterDeletesMb, double ServerCpu, long Received, bool Complete);

    public static async Task<int> RunAsync(int objects, int watchers, int concurrency, bool real, TextWriter output, CancellationToken ct)
    {
        var dll = typeof(ApiServerBench).Assembly.Location;
        var kubeconfig = Path.Combine(Path.GetTempPath(), $"extip-bench-{Environment.ProcessId}.kubeconfig");
        LoadResult ours;
        var info = new ProcessStartInfo("dotnet", [dll, "apiserver", "--listen", "127.0.0.1:0", "--kubeconfig-out", kubeconfig]) { RedirectStandardOutput = true, RedirectStandardError = true };
        RuntimeTuning.Apply("apiserver", info.Environment);
        using (var server = Process.Start(info)!)
        {
            try
            {
                var url = await ReadUrlAsync(server, ct);
                ours = await LoadAsync(kubeconfig, url, server.Id, objects, watchers, concurrency, ct);
            }
            finally
            {
                if (!server.HasExited)
                {
                    server.Kill(entireProcessTree: true);
                    await server.WaitForExitAsync(CancellationToken.None);
                }

                File.Delete(kubeconfig);
            }
        }

        output.WriteLine(Line("extip's embedded API server", objects, watchers, concurrency, ours));
        var result = new Dictionary<string, object>
        {
            ["bench"] = "apiserver",
            ["objects"] = objects,
            ["watchers"] = watchers,
            ["createsPerSec"] = Math.Round(ours.CreatesPerSec),
            ["watchP99Ms"] = Math.Round(ours.P99, 2),
            ["watchP50Ms"] = Math.Round(ours.P50, 2),
            ["peakRssMb"] = ours.PeakRssMb,
            ["rssAfterDeletesMb"] = ours.RssAfterDeletesMb,
            ["complete"] = ours.Complete,
        };
        var complete = ours.Complete;
        if (real)
        {
            // The same load against kube-apiserver v1.20 with etcd (tools/real-apiserver), in the same run.
            var dir = Path.Combine(Path.GetTempPath(), $"extip-bench-real-{Environment.ProcessId}");
            var tools = Path.Combine(Checkout.Root() ?? throw new InvalidOperationException("cannot find the extip checkout (tools/real-apiserver) above " + AppContext.BaseDirectory), "tools", "real-apiserver");
            try
            {
                var port = Checkout.RealApiServerPort();
                var started = Extip.Lab.Shell.Run("bash", [Path.Combine(tools, "start.sh"), dir, port.ToString(CultureInfo.InvariantCulture)]);
                var realConfig = started.Trim().Split('\n')[^1].Trim();
                var pid = int.Parse(File.ReadAllText(Path.Combine(dir, "apiserver.pid")).Trim(), CultureInfo.InvariantCulture);
                var theirs = await LoadAsync(realConfig, new Uri($"https://127.0.0.1:{port}/"), pid, objects, watchers, concurrency, ct);
                output.WriteLine(Line("kube-apiserver v1.20 (etcd apart)", objects, watchers, concurrency, theirs));
                result["realCreatesPerSec"] = Math.Round(theirs.CreatesPerSec);
                result["realWatchP99Ms"] = Math.Round(theirs.P99, 2);
                result["realWatchP50Ms"] = Math.Round(theirs.P50, 2);
                result["realPeakRssMb"] = theirs.PeakRssMb;
                result["realRssAfterDeletesMb"] = theirs.RssAfterDeletesMb;
                result["createsRatio"] = Math.Round(ours.CreatesPerSec / theirs.CreatesPerSec, 2);
                result["watchP99Ratio"] = Math.Round(ours.P99 / theirs.P99, 2);
                complete &= theirs.Complete;
            }
            finally
            {
                Extip.Lab.Shell.Run("bash", [Path.Combine(tools, "stop.sh"), dir], check: false);
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }

        BenchResult.Print(output, result);
        return complete ? 0 : 1;
    }

    private static string Line(string who, int objects, int watchers, int concurrency, LoadResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{who}: created {objects} Services at {r.CreatesPerSec:F0}/s ({concurrency} in flight); {watchers} watchers received {r.Received} of {(long)objects * watchers} events; delivery p50 {r.P50:F1} ms, p99 {r.P99:F1} ms; server peak RSS {r.PeakRssMb} MB, {r.RssAfterDeletesMb} MB after every object was deleted again; server CPU {r.ServerCpu:F1} s");

    /// <summary>
    /// The load: a warm-up (not timed), W watchers from the namespace's version, N creates with
    /// a few in flight (each Service carries its send time), then every object deleted again and
    /// the server's memory read once it has settled.
    /// </summary>
    private static async Task<LoadResult> LoadAsync(string kubeconfig, Uri url, int serverPid, int objects, int watchers, int concurrency, CancellationToken ct)
    {
        var config = Extip.Kubernetes.Client.Kubeconfig.Load(kubeconfig);
        var client = new Extip.Kubernetes.Client.ExtipKubernetes(config);
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Ns } }, cancellationToken: ct);

        // Warm-up, not timed: both processes start cold, and the JIT would still be compiling
        // and re-compiling (tiered, PGO) the create path during the first seconds of the run.
        var warm = Math.Min(objects, 3000);
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Ns + "-warm" } }, cancellationToken: ct);
        await CreateAsync(client, Ns + "-warm", warm, concurrency, ct);
        var rv = (await client.CoreV1.ListNamespacedServiceAsync(Ns, cancellationToken: ct)).Metadata.ResourceVersion;

        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = watchers + concurrency + 8,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && Trusted(config, cert) },
        };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", config.AccessToken);
        var latencies = new double[watchers][];
        var received = new int[watchers];
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watchTasks = Enumerable.Range(0, watchers).Select(w => WatchAsync(http, url, rv, objects, latencies[w] = new double[objects], r => received[w] = r, stop.Token)).ToList();
        await Task.Delay(500, ct);

        var sw = Stopwatch.StartNew();
        await CreateAsync(client, Ns, objects, concurrency, ct);
        var createSeconds = sw.Elapsed.TotalSeconds;
        var all = Task.WhenAll(watchTasks);
        if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60), ct)) != all)
        {
            stop.Cancel();
        }

        var samples = latencies.SelectMany((l, w) => l.Take(received[w])).Order().ToArray();
        var p99 = samples.Length == 0 ? double.NaN : samples[(int)Math.Min(samples.Length - 1, Math.Ceiling(samples.Length * 0.99) - 1)];
        var p50 = samples.Length == 0 ? double.NaN : samples[samples.Length / 2];
        var peak = Rss(serverPid, "VmHWM:");

        // Everything deleted again: does the memory come back?
        await DeleteAsync(client, Ns, objects, concurrency, ct);
        await DeleteAsync(client, Ns + "-warm", warm, concurrency, ct);
        await Task.Delay(TimeSpan.FromSeconds(5), ct);
        var after = Rss(serverPid, "VmRSS:");
        return new LoadResult(objects / createSeconds, p50, p99, peak, after, CpuSeconds($"/proc/{serverPid}/stat"), samples.Length, received.All(r => r == objects));
    }

    private static async Task DeleteAsync(k8s.Kubernetes client, string ns, int objects, int concurrency, CancellationToken ct)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < objects)
            {
                try
                {
                    await client.CoreV1.DeleteNamespacedServiceAsync(string.Create(CultureInfo.InvariantCulture, $"svc-{i}"), ns, cancellationToken: ct);
                }
                catch (System.Text.Json.JsonException)
                {
                    // v1.20 answers a Service deletion with a Status where the client expects a Service; it is gone.
                }
            }
        }));
    }

    /// <summary>Creates <paramref name="objects"/> Services with <paramref name="concurrency"/> requests in flight; each carries its send time.</summary>
    private static async Task CreateAsync(k8s.Kubernetes client, string ns, int objects, int concurrency, CancellationToken ct)
    {
        var next = -1;
        var creators = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < objects)
            {
                var svc = new V1Service
                {
                    Metadata = new V1ObjectMeta
                    {
                        Name = string.Create(CultureInfo.InvariantCulture, $"svc-{i}"),
                        Annotations = new Dictionary<string, string> { ["bench.extip.io/sent"] = Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture) },
                    },
                    Spec = new V1ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "bench" }, Ports = [new V1ServicePort { Port = 443, Protocol = "TCP" }] },
                };
                await client.CoreV1.CreateNamespacedServiceAsync(svc, ns, cancellationToken: ct);
            }
        }).ToList();
        await Task.WhenAll(creators);
    }

    /// <summary>The server's certificate chains to the kubeconfig's CA.</summary>
    private static bool Trusted(KubernetesClientConfiguration config, System.Security.Cryptography.X509Certificates.X509Certificate cert)
    {
        using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
        chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(config.SslCaCerts);
        using var leaf = new System.Security.Cryptography.X509Certificates.X509Certificate2(cert);
        return chain.Build(leaf);
    }

    private static async Task<Uri> ReadUrlAsync(Process server, CancellationToken ct)
    {
        // The URL comes first, then the kubeconfig (with the token) is written.
        Uri? url = null;
        while (await server.StandardOutput.ReadLineAsync(ct) is { } line)
        {
            var at = line.IndexOf("https://", StringComparison.Ordinal);
            if (at >= 0)
            {
                url = new Uri(line[at..].Split(' ')[0].Trim());
            }

            if (url is not null && line.StartsWith("kubeconfig written", StringComparison.Ordinal))
            {
                _ = server.StandardOutput.ReadToEndAsync(ct);
                _ = server.StandardError.ReadToEndAsync(ct);
                return url;
            }
        }

        throw new InvalidOperationException("extip apiserver did not start: " + await server.StandardError.ReadToEndAsync(ct));
    }

    /// <summary>
    /// A raw watch stream: finds each event's send time without deserializing the object (the
    /// bench measures the server, so its hundred clients read lines as cheaply as they can).
    /// </summary>
    private static async Task WatchAsync(HttpClient http, Uri url, string rv, int expect, double[] latencies, Action<int> progress, CancellationToken ct)
    {
        var marker = "\"bench.extip.io/sent\":\""u8.ToArray();
        using var res = await http.GetAsync(new Uri(url, $"/api/v1/namespaces/{Ns}/services?watch=true&resourceVersion={rv}"), HttpCompletionOption.ResponseHeadersRead, ct);
        res.EnsureSuccessStatusCode();
        await using var stream = await res.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[1 << 17];
        var filled = 0;
        var n = 0;
        try
        {
            while (n < expect)
            {
                if (filled == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                var read = await stream.ReadAsync(buffer.AsMemory(filled), ct);
                if (read == 0)
                {
                    break;
                }

                var now = Stopwatch.GetTimestamp();
                filled += read;
                var consumed = 0;
                int nl;
                while ((nl = buffer.AsSpan(consumed, filled - consumed).IndexOf((byte)'\n')) >= 0)
                {
                    var line = buffer.AsSpan(consumed, nl);
                    var at = line.IndexOf(marker);
                    if (at >= 0 && n < expect && System.Buffers.Text.Utf8Parser.TryParse(line[(at + marker.Length)..], out long sent, out _))
                    {
                        latencies[n++] = Stopwatch.GetElapsedTime(sent, now).TotalMilliseconds;
                    }

                    consumed += nl + 1;
                }

                // Keep the unfinished line at the front.
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
                progress(n);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ResponseEnded)
        {
        }
        catch (IOException)
        {
        }

        progress(n);
    }

    /// <summary>utime + stime of a process, in seconds (clock ticks of 1/100 s).</summary>
    private static double CpuSeconds(string statPath)
    {
        var stat = File.ReadAllText(statPath);
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>A memory figure of /proc/PID/status in MB: VmHWM (peak) or VmRSS (now).</summary>
    private static double Rss(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return Math.Round(long.Parse(line.AsSpan(field.Length).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0, 1);
            }
        }

        return double.NaN;
    }
}
