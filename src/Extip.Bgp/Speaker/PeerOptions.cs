using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Bfd;

namespace Extip.Bgp.Speaker;

/// <summary>One BGP neighbour, as a BGPPeer object describes it.</summary>
public sealed record PeerOptions
{
    public required IPAddress PeerAddress { get; init; }

    public int PeerPort { get; init; } = 179;

    public required uint LocalAs { get; init; }

    public required uint PeerAs { get; init; }

    /// <summary>BGP identifier (an IPv4 address as a number); must be non-zero.</summary>
    public required uint RouterId { get; init; }

    /// <summary>Source address of the session (and the next hop announced); default: what the kernel picks.</summary>
    public IPAddress? LocalAddress { get; init; }

    /// <summary>The hold time we offer; the session uses the smaller of ours and the peer's (0: no keepalives).</summary>
    public TimeSpan HoldTime { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Between KEEPALIVEs; default a third of the negotiated hold time.</summary>
    public TimeSpan? KeepaliveTime { get; init; }

    public TimeSpan ConnectRetry { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Wait for the peer to connect instead of connecting.</summary>
    public bool Passive { get; init; }

    /// <summary>TCP MD5 signature key (RFC 2385).</summary>
    public string? Password { get; init; }

    /// <summary>eBGP multihop: the TTL of outgoing packets (default 1 for eBGP, 64 for iBGP).</summary>
    public int? Ttl { get; init; }

    /// <summary>
    /// RFC 4724 graceful restart: the capability in our OPEN, so that a peer acting as helper keeps
    /// our routes (as stale) for <see cref="RestartTime"/> when our connection drops without a
    /// NOTIFICATION (the agent crashed or was killed), until we are back and say End-of-RIB.
    /// </summary>
    public bool GracefulRestart { get; init; }

    public ushort RestartTime { get; init; } = 120;

    /// <summary>
    /// The Restart State (R) bit in the first OPEN of this session's life: this speaker has
    /// restarted (the agent found the addresses a previous run left), so the peer must not wait for
    /// our End-of-RIB before it sends its own routes. Later reconnections say 0.
    /// </summary>
    public bool RestartState { get; init; }

    /// <summary>
    /// The Forwarding State (F) bit: the addresses behind the routes we announced before the restart
    /// are still on the node. When false the peer drops our stale routes at once, at the new OPEN.
    /// </summary>
    public bool ForwardingPreserved { get; init; } = true;

    /// <summary>BFD for this peer (RFC 5882): when its session goes down, so does the BGP session.</summary>
    public BfdOptions? Bfd { get; init; }

    /// <summary>The clock the session's timers (hold, keepalive, connect retry) read and wait on.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Network namespace the session's sockets live in.</summary>
    public string? Netns { get; init; }

    public bool IsInternal => LocalAs == PeerAs;

    public AddressFamily Family => PeerAddress.AddressFamily;

    public string Name => $"{PeerAddress} AS{PeerAs}";

    public static uint RouterIdOf(IPAddress v4)
    {
        ArgumentNullException.ThrowIfNull(v4);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(v4.MapToIPv4().GetAddressBytes());
    }

    /// <summary>Throws naming the field and the value when the session could not work.</summary>
    public void Validate()
    {
        var hold = HoldTime.TotalSeconds;
        if (RouterId == 0)
        {
            throw new ArgumentException("routerID 0.0.0.0: a BGP identifier must be non-zero (RFC 6286)");
        }

        if (LocalAs == 0 || PeerAs == 0)
        {
            throw new ArgumentException($"localASN {LocalAs}, peerASN {PeerAs}: AS 0 is reserved (RFC 7607)");
        }

        if (hold is > 0 and < 3 || hold > ushort.MaxValue || HoldTime.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw new ArgumentException($"holdTime {HoldTime.TotalSeconds} s: must be 0 or 3 to 65535 whole seconds (RFC 4271 §4.2)");
        }

        if (KeepaliveTime is { } k && (k <= TimeSpan.Zero || (hold > 0 && k >= HoldTime)))
        {
            throw new ArgumentException($"keepaliveTime {k.TotalSeconds} s: must be positive and shorter than the hold time ({HoldTime.TotalSeconds} s)");
        }

        if (PeerPort is < 1 or > 65535)
        {
            throw new ArgumentException($"peerPort {PeerPort}: must be 1 to 65535");
        }

        if (Ttl is < 1 or > 255)
        {
            throw new ArgumentException($"ebgpMultiHop {Ttl}: must be 1 to 255");
        }

        if (LocalAddress is { } local && local.AddressFamily != PeerAddress.AddressFamily)
        {
            throw new ArgumentException($"sourceAddress {local}: not of the family of peerAddress {PeerAddress}");
        }

        if (ConnectRetry <= TimeSpan.Zero)
        {
            throw new ArgumentException($"connectTime {ConnectRetry.TotalSeconds} s: must be positive");
        }

        Bfd?.Validate();
    }
}
