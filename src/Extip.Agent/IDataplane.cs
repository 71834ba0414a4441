using System.Net;
using System.Threading.Channels;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Extip.Netlink;
using Extip.Netlink.Wire;

namespace Extip.Agent;

/// <summary>
/// The node's kernel as the agent's passes see it: the one place addresses are added, removed and
/// announced (<see cref="Dataplane"/>: rtnetlink and a packet socket in the node's namespace). The
/// agent's logic (what a pass keeps, in which order it withdraws and removes, fencing) depends on
/// this and not on the kernel, so it can be tested without root, in virtual time.
/// </summary>
public interface IDataplane : IDisposable
{
    /// <summary>Kernel changes (links, addresses, neighbours): each a reason to look again.</summary>
    ChannelReader<NetlinkChange> Changes { get; }

    long AnnouncementsSent { get; }

    /// <summary>The node's first IPv4 address that extip did not put there, off loopback (the default BGP identifier).</summary>
    IPAddress? PrimaryIPv4();

    /// <summary>Every interface with its addresses, for the IPNode status.</summary>
    IReadOnlyList<InterfaceState> Interfaces();

    /// <summary>The addresses extip put on the node (its mark), now.</summary>
    IReadOnlyList<AddressEntry> Marked();

    /// <summary>Adds what is missing, removes what is marked and not wanted; returns the state of each wanted address.</summary>
    IReadOnlyList<AddressState> Apply(IReadOnlyCollection<DesiredAddress> desired);

    /// <summary>Pushes the kernel lifetime of every marked address to <paramref name="seconds"/>; returns how many.</summary>
    int Extend(uint seconds);

    /// <summary>Removes every marked address; returns how many.</summary>
    int RemoveAll();

    /// <summary>
    /// Makes the node's packet filter chain and silence what <paramref name="chains"/> says (see
    /// <see cref="Chaining"/>), when that differs from what it last did; returns why it could
    /// not, or null.
    /// </summary>
    string? Chain(ConnectionChains chains);

    /// <summary>Asks the next <see cref="Apply"/> to announce again every address it keeps on the link.</summary>
    void ReannounceLater(int linkIndex);
}

/// <summary>Where the agent's routes go: the BGP speaker (<see cref="Bgp.BgpPeering"/>), or a test's recorder.</summary>
public interface IRouteAnnouncer
{
    /// <summary>Replaces the routes announced to every peer.</summary>
    void Announce(IReadOnlyDictionary<Prefix, RouteAttributes> routes);
}
