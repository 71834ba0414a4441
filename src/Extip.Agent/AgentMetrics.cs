using Extip.Bgp.Bfd;
using Extip.Bgp.Speaker;
using Prometheus;

namespace Extip.Agent;

/// <summary>
/// The agent's Prometheus metrics, in a registry of its own (tests run several agents in one
/// process). Read from the agent's state at each scrape, so they are never stale.
/// </summary>
public sealed class AgentMetrics
{
    private readonly ExtipAgent _agent;
    private readonly Gauge _addresses;
    private readonly Gauge _fenced;
    private readonly Gauge _sessionUp;
    private readonly Gauge _sessionState;
    private readonly Gauge _prefixes;
    private readonly Gauge _updatesSent;
    private readonly Gauge _established;
    private readonly Gauge _bfdUp;
    private readonly Gauge _bfdDetect;
    private readonly Gauge _announcements;
    private readonly Gauge _peersHeard;
    private readonly Gauge _outageHold;
    private readonly Gauge _handoversTimedOut;
    private HashSet<string> _labelled = new(StringComparer.Ordinal);

    public AgentMetrics(ExtipAgent agent)
    {
        _agent = agent;
        Registry = Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        _addresses = f.CreateGauge("extip_agent_addresses", "Addresses the claims give this node, by state (Held, Pending, Failed).", "state");
        _fenced = f.CreateGauge("extip_agent_fenced", "1 while the agent cannot renew its Lease (it holds only what the fencing rule lets it keep).");
        _peersHeard = f.CreateGauge("extip_agent_peers_heard", "Peers whose signed heartbeat arrived in the last Lease duration.");
        _outageHold = f.CreateGauge("extip_agent_outage_hold", "1 while the Lease has run out and single-owner addresses stay because no peer reaches the API server either.");
        _handoversTimedOut = f.CreateGauge("extip_agent_handovers_timed_out", "Addresses given up after --handover-timeout although the nodes their claims moved to never said they held them (since the agent started).");
        _announcements = f.CreateGauge("extip_agent_l2_announcements_sent", "Gratuitous ARP and unsolicited NA frames sent.");
        _sessionUp = f.CreateGauge("extip_agent_bgp_session_up", "1 while the BGP session with the peer is Established.", "peer");
        _sessionState = f.CreateGauge("extip_agent_bgp_session_state", "RFC 4271 state of the session: 0 Idle, 1 Connect, 2 Active, 3 OpenSent, 4 OpenConfirm, 5 Established.", "peer");
        _prefixes = f.CreateGauge("extip_agent_bgp_prefixes_advertised", "Prefixes the peer has from this node.", "peer");
        _updatesSent = f.CreateGauge("extip_agent_bgp_updates_sent", "UPDATE messages sent to the peer since the agent started.", "peer");
        _established = f.CreateGauge("extip_agent_bgp_established_count", "Times the session reached Established (flaps show as increments).", "peer");
        _bfdUp = f.CreateGauge("extip_agent_bfd_up", "1 while the BFD session with the peer is Up.", "peer");
        _bfdDetect = f.CreateGauge("extip_agent_bfd_detection_seconds", "Negotiated BFD detection time.", "peer");
        Registry.AddBeforeCollectCallback(Collect);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>The registry in the Prometheus text format, as /metrics serves it.</summary>
    public async Task<string> RenderAsync()
    {
        using var buffer = new MemoryStream();
        await Registry.CollectAndExportAsTextAsync(buffer).ConfigureAwait(false);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private void Collect()
    {
        var states = _agent.States;
        foreach (var state in new[] { AddressState.Held, AddressState.Pending, AddressState.Failed })
        {
            _addresses.WithLabels(state).Set(states.Count(s => s.State == state));
        }

        _fenced.Set(_agent.Fenced ? 1 : 0);
        _peersHeard.Set(_agent.Peers.PeersHeard(_agent.Options.LeaseDuration));
        _outageHold.Set(_agent.HoldingThroughOutage ? 1 : 0);
        _announcements.Set(_agent.AnnouncementsSent);
        _handoversTimedOut.Set(_agent.HandoversTimedOut);
        var now = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in _agent.Bgp?.Sessions ?? [])
        {
            var peer = s.Options.PeerAddress.ToString();
            now.Add(peer);
            _sessionUp.WithLabels(peer).Set(s.State == SessionState.Established ? 1 : 0);
            _sessionState.WithLabels(peer).Set((int)s.State);
            _prefixes.WithLabels(peer).Set(s.PrefixesAdvertised);
            _updatesSent.WithLabels(peer).Set(s.UpdatesSent);
            _established.WithLabels(peer).Set(s.TimesEstablished);
            if (s.Bfd is { } bfd)
            {
                _bfdUp.WithLabels(peer).Set(bfd.State == BfdState.Up ? 1 : 0);
                var detect = bfd.DetectionTime;
                _bfdDetect.WithLabels(peer).Set(detect == TimeSpan.MaxValue ? double.PositiveInfinity : detect.TotalSeconds);
            }
        }

        // A peer that is gone leaves no series behind.
        foreach (var gone in _labelled.Where(p => !now.Contains(p)))
        {
            foreach (var g in new[] { _sessionUp, _sessionState, _prefixes, _updatesSent, _established, _bfdUp, _bfdDetect })
            {
                g.RemoveLabelled(gone);
            }
        }

        _labelled = now;
    }
}
