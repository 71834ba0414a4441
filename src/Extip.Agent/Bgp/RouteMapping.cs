using System.Net;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Extip.Core.Pools;
using Extip.Kubernetes.Models;

namespace Extip.Agent.Bgp;

/// <summary>What the agent announces over BGP: a host route per held BGP-mode address, with its claim's attributes; and the router ID it speaks with.</summary>
internal static class RouteMapping
{
    /// <summary>The BGP identifier: as configured, else the node's first IPv4 address, else a hash of the node name.</summary>
    public static uint RouterId(IPAddress? configuredOrPrimary, string node)
    {
        if (configuredOrPrimary is { } ip)
        {
            return PeerOptions.RouterIdOf(ip);
        }

        var h = 2166136261u;
        foreach (var c in node)
        {
            h = (h ^ c) * 16777619u;
        }

        return h == 0 ? 1 : h;
    }

    /// <summary>Host routes (/32, /128) of the held BGP-mode addresses, with their claims' communities and local preference.</summary>
    public static Dictionary<Prefix, RouteAttributes> Routes(IEnumerable<AddressState> states, IReadOnlyDictionary<string, IpClaim> claims)
    {
        var routes = new Dictionary<Prefix, RouteAttributes>();
        foreach (var s in states.Where(s => s.State == AddressState.Held && s.Want.Mode == Extip.Core.Pools.AnnounceMode.BGP))
        {
            routes[Prefix.Host(s.Want.Address)] = claims.TryGetValue(s.Want.Claim, out var c) ? Attributes(c) : RouteAttributes.None;
        }

        return routes;
    }

    public static RouteAttributes Attributes(IpClaim claim)
    {
        var standard = new List<uint>();
        var large = new List<(uint, uint, uint)>();
        foreach (var text in claim.Spec.Communities ?? [])
        {
            if (Community.TryParse(text, out var c, out _))
            {
                if (c.IsLarge)
                {
                    large.Add((c.Global, c.Local1, c.Local2));
                }
                else
                {
                    standard.Add((c.Global << 16) | c.Local1);
                }
            }
        }

        return standard.Count == 0 && large.Count == 0 && claim.Spec.LocalPreference is null ? RouteAttributes.None : new RouteAttributes(standard, large, claim.Spec.LocalPreference);
    }
}
