namespace Extip.Agent;

/// <summary>How one agent runs.</summary>
public sealed record AgentOptions
{
    /// <summary>The node this agent speaks for (IPClaim spec.nodes, Lease and IPNode names).</summary>
    public required string Node { get; init; }

    /// <summary>Namespace of the agent Leases (the controller's).</summary>
    public string Namespace { get; init; } = Kubernetes.Models.ExtipApi.DefaultNamespace;

    /// <summary>Network namespace whose interfaces this agent drives (null: its own).</summary>
    public string? Netns { get; init; }

    /// <summary>The Lease's duration: the controller moves claims away this long after the last renewal, and the agent drops its addresses after as long without one (fencing).</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(4);

    public TimeSpan RenewInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Full re-check of the interfaces even when nothing was announced.</summary>
    public TimeSpan Resync { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>IFA_PROTO value that marks extip's addresses, so a restart can sweep what it left.</summary>
    public byte Mark { get; init; } = 0x65;

    /// <summary>Gratuitous ARP / unsolicited NA when taking an address on an Ethernet interface.</summary>
    public bool Announce { get; init; } = true;

    /// <summary>
    /// Repeats after the first burst of 3, at 0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2 and 3 s (this
    /// many of them, 0–9). The whole set is sent again when the link comes back up and after the
    /// node's neighbour table on the link was flushed.
    /// </summary>
    public int AnnounceRepeats { get; init; } = 9;

    /// <summary>After a neighbour entry on a link was deleted (a flush), announce again at most this often on it.</summary>
    public TimeSpan NeighbourFlushReannounce { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>BGP sessions with the BGPPeers that select this node, announcing its BGP-mode addresses.</summary>
    public bool Bgp { get; init; } = true;

    /// <summary>The BGP identifier when a BGPPeer names none; default: the node's first IPv4 address.</summary>
    public System.Net.IPAddress? RouterId { get; init; }

    /// <summary>
    /// UDP port of the peer heartbeat (on the nodes' own addresses); 0 turns it off, and then a
    /// Lease that runs out always fences single-owner claims.
    /// </summary>
    public int PeerPort { get; init; } = DefaultPeerPort;

    public const int DefaultPeerPort = 7473;

    /// <summary>
    /// How long single-owner addresses may be kept past the Lease when no peer has reached the API
    /// server either (an outage of the control plane); null: as long as the outage lasts.
    /// </summary>
    public TimeSpan? OutageHold { get; init; }

    /// <summary>The agent's clock for durations (Lease age, heartbeats, fencing).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// The process that sends BFD's periodic packets, out of reach of the agent's garbage
    /// collections (<c>extip bfd-transmit</c>); null: the agent's own timer thread sends them.
    /// </summary>
    public Extip.Bgp.Bfd.BfdTransmitCommand? BfdTransmit { get; init; }

    /// <summary>
    /// Make-before-break: an address whose single-owner claim moved to other nodes stays here,
    /// announced, until those nodes say (IPNode status) they hold it, for at most this long; zero
    /// gives it up at once.
    /// </summary>
    public TimeSpan HandoverTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// An address this node gives up (its claim moved, or this node left an All claim) stays this
    /// long after it stopped announcing it (BGP route withdrawn; L2: ARP no longer answered), so
    /// that packets the network sent before it switched, and the connections the new holder
    /// chains back to this node, still find it.
    /// </summary>
    public TimeSpan WithdrawDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// An address handed over stays (with its BGP route) this long after its new nodes said they
    /// hold it, so that their announcements (routes, gratuitous ARP) have taken effect first.
    /// </summary>
    public TimeSpan HandoverOverlap { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// On SIGTERM the agent first asks the controller (its Lease says draining) to move its claims
    /// to other nodes, and hands them over make-before-break; it waits at most this long for that
    /// before it withdraws and removes what is left.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Connection-aware moves: a node that takes a single-owner address while a live node still
    /// holds it sends that node the TCP segments of connections it did not see start
    /// (<see cref="Chaining"/>; needs libnftables); off, those connections are reset when the
    /// network switches to the new holder.
    /// </summary>
    public bool ChainConnections { get; init; } = true;

    /// <summary>The defaults, for command lines that show them.</summary>
    public static readonly AgentOptions Defaults = new() { Node = "-" };

    /// <summary>host:port for /metrics, /healthz and /readyz; null for none.</summary>
    public string? MetricsAddress { get; init; }
}
