using System.Net;

namespace Extip.Lab.Routers;

/// <summary>A BGP neighbour of a lab router (one of extip's agents, or another speaker).</summary>
public sealed record BgpNeighbor
{
    public required IPAddress Address { get; init; }

    public required uint As { get; init; }

    /// <summary>TCP MD5 password (RFC 2385).</summary>
    public string? Password { get; init; }

    /// <summary>BFD on this session, with the router's BFD timers.</summary>
    public bool Bfd { get; init; }

    /// <summary>Hold time offered, in seconds.</summary>
    public int HoldTime { get; init; } = 9;

    /// <summary>Wait for the neighbour to connect.</summary>
    public bool Passive { get; init; }

    /// <summary>Start with the session administratively down (<see cref="Router.EnableAsync"/> starts it).</summary>
    public bool Disabled { get; init; }

    /// <summary>A name for the session, usable in every daemon's configuration.</summary>
    public string Name => "p_" + Address.ToString().Replace('.', '_').Replace(':', '_');
}

/// <summary>A lab router: one BGP speaker with neighbours, routes installed into its namespace's kernel with ECMP.</summary>
public sealed record RouterConfig
{
    public required IPAddress RouterId { get; init; }

    public required uint As { get; init; }

    public IReadOnlyList<BgpNeighbor> Neighbors { get; init; } = [];

    public TimeSpan BfdInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    public int BfdMultiplier { get; init; } = 3;

    /// <summary>The TCP port the router listens on (and connects to).</summary>
    public int Port { get; init; } = 179;

    /// <summary>Install learned routes in the router's kernel (multipath when several nodes announce one prefix).</summary>
    public bool InstallRoutes { get; init; } = true;
}

/// <summary>A neighbour as the router sees it.</summary>
public sealed record PeerInfo(string State, bool Established, int Received);
