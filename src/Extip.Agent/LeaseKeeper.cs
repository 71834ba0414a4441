using Extip.Core.Concurrency;
using System.Net;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Extip.Agent;

/// <summary>
/// The agent's Lease (extip-agent-NODE): renewed every <see cref="AgentOptions.RenewInterval"/>.
/// <see cref="ValidUntil"/> is the renewTime last written plus the duration: the controller
/// considers the node dead from then on, so the agent must not hold addresses past it.
/// </summary>
public sealed class LeaseKeeper(IKubernetes client, AgentOptions options)
{
    private long _validUntilTicks = options.Time.GetUtcNow().UtcDateTime.Add(options.LeaseDuration).Ticks;
    private readonly long _started = options.Time.GetTimestamp();

    public string Name => ExtipApi.AgentLeasePrefix + options.Node;

    private string Path => ApiPath.Group("coordination.k8s.io/v1", "leases", options.Namespace, Name);

    /// <summary>Until when this agent may hold addresses; at start, one lease duration (an earlier life's Lease cannot outlast that).</summary>
    public DateTime ValidUntil => new(Interlocked.Read(ref _validUntilTicks), DateTimeKind.Utc);

    public Exception? LastError { get; private set; }

    /// <summary>When (a timestamp of <see cref="AgentOptions.Time"/>) the API server last answered a renewal; null before the first.</summary>
    public long? ReachedAt { get; private set; }

    /// <summary>
    /// Since when (a timestamp of <see cref="AgentOptions.Time"/>) the API server has answered
    /// renewals without a break: a silence longer than half the Lease starts a new streak, as the
    /// controller counts them. Null before the first renewal.
    /// </summary>
    public long? StreakSince { get; private set; }

    /// <summary>How long the current streak of renewals has lasted; null before the first.</summary>
    public TimeSpan? StreakAge => StreakSince is { } at ? options.Time.GetElapsedTime(at) : null;

    /// <summary>When this agent last reached the API server, or when it started if never.</summary>
    public long LastReached => ReachedAt ?? _started;

    /// <summary>How long ago the API server last answered a renewal; null before the first.</summary>
    public TimeSpan? ApiAge => ReachedAt is { } at ? options.Time.GetElapsedTime(at) : null;

    /// <summary>Renewals say the agent is stopping (<see cref="ExtipApi.DrainingAnnotation"/>): the controller moves its claims away.</summary>
    public bool Draining { get; set; }

    private void Mark(V1ObjectMeta meta)
    {
        if (Draining)
        {
            meta.Annotations ??= new Dictionary<string, string>();
            meta.Annotations[ExtipApi.DrainingAnnotation] = "true";
        }
        else
        {
            meta.Annotations?.Remove(ExtipApi.DrainingAnnotation);
        }
    }

    /// <summary>Renews once; true when the API took it.</summary>
    public async Task<bool> RenewAsync(CancellationToken ct)
    {
        var outer = ct;
        var now = options.Time.GetUtcNow().UtcDateTime;
        var seconds = Math.Max(1, (int)Math.Ceiling(options.LeaseDuration.TotalSeconds));

        // A renewal that hangs is a failed one: the next attempt must not wait behind it.
        using var bounded = new Deadline(options.Time, options.LeaseDuration / 2, ct);
        ct = bounded.Token;
        try
        {
            try
            {
                var lease = await client.GetAsync<V1Lease>(Path, ct).ConfigureAwait(false);
                if (lease.Spec.HolderIdentity != options.Node)
                {
                    lease.Spec.AcquireTime = now;
                    lease.Spec.LeaseTransitions = (lease.Spec.LeaseTransitions ?? 0) + 1;
                }

                lease.Spec.HolderIdentity = options.Node;
                lease.Spec.RenewTime = now;
                lease.Spec.LeaseDurationSeconds = seconds;
                Mark(lease.Metadata);
                await client.ReplaceAsync(Path, lease, ct).ConfigureAwait(false);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                var created = new V1Lease
                {
                    Metadata = new V1ObjectMeta { Name = Name, Labels = new Dictionary<string, string> { [ExtipApi.ComponentLabel] = "agent" } },
                    Spec = new V1LeaseSpec { HolderIdentity = options.Node, RenewTime = now, AcquireTime = now, LeaseDurationSeconds = seconds },
                };
                Mark(created.Metadata);
                await client.CreateAsync(ApiPath.Group("coordination.k8s.io/v1", "leases", options.Namespace), created, ct).ConfigureAwait(false);
            }
            var until = now.AddSeconds(seconds);
            if (until.Ticks > Interlocked.Read(ref _validUntilTicks))
            {
                Interlocked.Exchange(ref _validUntilTicks, until.Ticks);
            }

            LastError = null;
            var reached = options.Time.GetTimestamp();
            if (ReachedAt is not { } last || options.Time.GetElapsedTime(last, reached) > options.LeaseDuration / 2)
            {
                StreakSince = reached;
            }

            ReachedAt = reached;
            return true;
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or TimeoutException or IOException || (e is OperationCanceledException && bounded.Token.IsCancellationRequested && !outer.IsCancellationRequested))
        {
            LastError = e;
            return false;
        }
    }

    /// <summary>Clears the holder so that the controller moves this node's claims at once.</summary>
    public async Task ReleaseAsync(CancellationToken ct)
    {
        Interlocked.Exchange(ref _validUntilTicks, options.Time.GetUtcNow().UtcDateTime.Ticks);
        try
        {
            var lease = await client.GetAsync<V1Lease>(Path, ct).ConfigureAwait(false);
            if (lease.Spec.HolderIdentity == options.Node)
            {
                lease.Spec.HolderIdentity = null;
                lease.Metadata.Annotations?.Remove(ExtipApi.DrainingAnnotation);
                await client.ReplaceAsync(Path, lease, ct).ConfigureAwait(false);
            }
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }
}
