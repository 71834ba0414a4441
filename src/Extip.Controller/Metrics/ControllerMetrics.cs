using Prometheus;

namespace Extip.Controller.Metrics;

/// <summary>The controller's Prometheus metrics, in a registry of its own (several controllers may share a process in tests).</summary>
public sealed class ControllerMetrics
{
    public ControllerMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        PoolCapacity = f.CreateGauge("extip_pool_capacity", "Addresses in the pool.", "pool", "family");
        PoolInUse = f.CreateGauge("extip_pool_in_use", "Addresses of the pool held by Services.", "pool", "family");
        Allocations = f.CreateCounter("extip_allocations_total", "Addresses given to Services.", "pool");
        Refusals = f.CreateCounter("extip_refusals_total", "Addresses refused, by reason.", "reason");
        Reconciles = f.CreateCounter("extip_reconcile_total", "Reconciles, by kind and result.", "kind", "result");
        ReconcileSeconds = f.CreateHistogram("extip_reconcile_duration_seconds", "Reconcile durations.", new HistogramConfiguration
        {
            LabelNames = ["kind"],
            Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16),
        });
        Leader = f.CreateGauge("extip_leader", "1 while this controller is the leader.");
        Claims = f.CreateGauge("extip_claims", "IPClaims the controller keeps.");
        LiveAgents = f.CreateGauge("extip_live_agents", "Agents whose Lease is live.");
        Disruption = f.CreateGauge("extip_control_plane_disruption", "1 while most agents' Leases ran out together (a control-plane disruption): no claim moves until they have had a grace to renew.");
        Disruptions = f.CreateCounter("extip_control_plane_disruptions_total", "Control-plane disruptions declared.");
        UnconfirmedExpiries = f.CreateGauge("extip_agents_expiry_unconfirmed", "Agents whose Lease ran out while no other agent was seen renewing (a control-plane disruption): kept live, their claims do not move.");
        ClaimWrites = f.CreateCounter("extip_claim_writes_total", "IPClaim creates, updates and deletes.", "op");
    }

    public CollectorRegistry Registry { get; }

    public Gauge PoolCapacity { get; }

    public Gauge PoolInUse { get; }

    public Counter Allocations { get; }

    public Counter Refusals { get; }

    public Counter Reconciles { get; }

    public Histogram ReconcileSeconds { get; }

    public Gauge Leader { get; }

    public Gauge Claims { get; }

    public Gauge LiveAgents { get; }

    public Gauge Disruption { get; }

    public Counter Disruptions { get; }

    public Gauge UnconfirmedExpiries { get; }

    public Counter ClaimWrites { get; }

    /// <summary>The registry in the Prometheus text format, as /metrics serves it.</summary>
    public async Task<string> RenderAsync()
    {
        using var buffer = new MemoryStream();
        await Registry.CollectAndExportAsTextAsync(buffer);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
