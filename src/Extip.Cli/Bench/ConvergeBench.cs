using System.Diagnostics;
using System.Net;
using Extip.Cli.Lab;
using Extip.Lab;
using k8s;
using k8s.Models;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench converge</c>: in a lab of its own (the seed's: BGP, All, two agents), the time
/// from creating a new Service (the request <c>kubectl apply</c> sends) until the client's first
/// answered request to its address.
/// </summary>
internal static class ConvergeBench
{
    public static async Task<int> RunAsync(int runs, TextWriter output, CancellationToken ct)
    {
        if (Environment.UserName != "root")
        {
            await output.WriteLineAsync("bench converge: needs root (network namespaces)").ConfigureAwait(false);
            return 1;
        }

        var home = new LabHome(Path.Combine(Path.GetTempPath(), $"extip-bench-converge-{Environment.ProcessId}"));
        var times = new List<double>();
        try
        {
            var state = await LabLauncher.UpAsync(new LabSpec { Nodes = 3, Agents = 2 }, home, TextWriter.Null, ct).ConfigureAwait(false);
            var client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(state.Kubeconfig));
            for (var i = 0; i < runs; i++)
            {
                var address = IPAddress.Parse($"203.0.113.{100 + i}");
                var service = new V1Service
                {
                    Metadata = new V1ObjectMeta { Name = $"converge-{i}" },
                    Spec = new V1ServiceSpec
                    {
                        Type = "NodePort",
                        Ports = [new V1ServicePort { Protocol = "TCP", Port = state.Spec.Port }],
                        ExternalIPs = [address.ToString()],
                    },
                };

                // Ask every 2 ms (each request waits up to 250 ms) from the moment the Service is sent.
                using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var first = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
                var sw = Stopwatch.StartNew();
                var create = client.CoreV1.CreateNamespacedServiceAsync(service, "default", cancellationToken: ct);
                var asking = Task.Run(async () =>
                {
                    var pending = new List<Task>();
                    while (!done.IsCancellationRequested && sw.Elapsed < TimeSpan.FromSeconds(60))
                    {
                        pending.Add(Task.Run(async () =>
                        {
                            if (await Responder.AskAsync(state.Client, address, state.Spec.Port, TimeSpan.FromMilliseconds(250)).ConfigureAwait(false) is not null)
                            {
                                first.TrySetResult(sw.Elapsed.TotalMilliseconds);
                            }
                        }, CancellationToken.None));
                        await Task.Delay(2, CancellationToken.None).ConfigureAwait(false);
                    }

                    await Task.WhenAll(pending).ConfigureAwait(false);
                    first.TrySetException(new TimeoutException($"{address} was not answered within 60 s"));
                }, CancellationToken.None);
                await create.ConfigureAwait(false);
                var ms = await first.Task.ConfigureAwait(false);
                await done.CancelAsync().ConfigureAwait(false);
                await asking.ConfigureAwait(false);
                times.Add(Math.Round(ms, 1));
                await output.WriteLineAsync($"run {i + 1}: {address} answered {ms:F0} ms after the Service was sent").ConfigureAwait(false);
            }
        }
        finally
        {
            await LabLauncher.DownAsync(home, TextWriter.Null, CancellationToken.None).ConfigureAwait(false);
        }

        var sorted = times.Order().ToList();
        BenchResult.Print(output, new Dictionary<string, object>
        {
            ["bench"] = "converge",
            ["runs"] = runs,
            ["medianMs"] = sorted[sorted.Count / 2],
            ["p90Ms"] = sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(sorted.Count * 0.9) - 1)],
            ["timesMs"] = times,
        });
        return 0;
    }
}
