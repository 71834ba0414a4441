using System.Net;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Extip.Testing.Cluster;

/// <summary>
/// Agents as the controller sees them: a Lease per node, renewed every <see cref="Period"/>.
/// Stopping one (as a dead node would) lets its Lease run out; releasing one clears the holder
/// (as an agent does on SIGTERM).
/// </summary>
public sealed class FakeAgents(IKubernetes client, string ns, int leaseSeconds = 2) : IAsyncDisposable
{
    private readonly Dictionary<string, CancellationTokenSource> _running = new(StringComparer.Ordinal);

    public TimeSpan Period { get; init; } = TimeSpan.FromMilliseconds(400);

    /// <summary>The duration each renewal writes into the Lease (2 s unless a test sets it).</summary>
    public int LeaseSeconds { get; set; } = leaseSeconds;

    /// <summary>When each node's Lease was last renewed.</summary>
    public Dictionary<string, DateTime> LastRenew { get; } = new(StringComparer.Ordinal);

    public async Task StartAsync(params string[] nodes)
    {
        foreach (var node in nodes)
        {
            await RenewAsync(node, CancellationToken.None);
            var cts = new CancellationTokenSource();
            _running[node] = cts;
            _ = Task.Run(async () =>
            {
                while (!cts.IsCancellationRequested)
                {
                    try
                    {
                        await Task.Delay(Period, cts.Token);
                        await RenewAsync(node, cts.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    catch (Exception e) when (e is HttpOperationException or HttpRequestException)
                    {
                    }
                }
            });
        }
    }

    /// <summary>Stops renewing: the node is dead as far as the controller can tell once the Lease runs out.</summary>
    public DateTime Kill(string node)
    {
        if (_running.Remove(node, out var cts))
        {
            cts.Cancel();
            cts.Dispose();
        }

        return LastRenew[node].AddSeconds(LeaseSeconds);
    }

    private async Task RenewAsync(string node, CancellationToken ct)
    {
        var name = ExtipApi.AgentLeasePrefix + node;
        var now = DateTime.UtcNow;
        try
        {
            var lease = await client.CoordinationV1.ReadNamespacedLeaseAsync(name, ns, cancellationToken: ct);
            lease.Spec.HolderIdentity = node;
            lease.Spec.RenewTime = now;
            lease.Spec.LeaseDurationSeconds = LeaseSeconds;
            await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, name, ns, cancellationToken: ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            await client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
            {
                Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { [ExtipApi.ComponentLabel] = "agent" } },
                Spec = new V1LeaseSpec { HolderIdentity = node, LeaseDurationSeconds = LeaseSeconds, AcquireTime = now, RenewTime = now },
            }, ns, cancellationToken: ct);
        }

        LastRenew[node] = now;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var cts in _running.Values)
        {
            await cts.CancelAsync();
            cts.Dispose();
        }

        _running.Clear();
    }
}
