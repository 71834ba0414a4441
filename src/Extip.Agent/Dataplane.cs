using System.Net;
using Extip.Netlink;
using Extip.Netlink.L2;
using Extip.Netlink.Wire;

namespace Extip.Agent;

/// <summary>An address a claim wants on this node.</summary>
public sealed record DesiredAddress(IPAddress Address, int PrefixLength, string Interface, Extip.Core.Pools.AnnounceMode Mode, string Claim)
{
    /// <summary>The kernel's lifetime for it, in whole seconds (refreshed at every pass); null: forever.</summary>
    public uint? LifetimeSeconds { get; init; }

    /// <summary>
    /// Being handed over to another node: kept, but never announced (its gratuitous ARP / NA
    /// repeats stop), so that this node does not pull the neighbours back from the new holder.
    /// </summary>
    public bool Quiet { get; init; }

    public override string ToString() => $"{Address}/{PrefixLength} on {Interface}";
}

/// <summary>An interface of the node, up or not, with its addresses as address/prefix-length.</summary>
public sealed record InterfaceState(string Name, bool Up, IReadOnlyList<string> Addresses);

/// <summary>Where a desired address stands on the node.</summary>
public sealed record AddressState(DesiredAddress Want, string State, string? Message, DateTime Since)
{
    // The IPNode status's words: the controller and `extip status` read them there.
    public const string Held = Kubernetes.Models.NodeAddressStatus.HeldState;
    public const string Pending = Kubernetes.Models.NodeAddressStatus.PendingState;
    public const string Failed = Kubernetes.Models.NodeAddressStatus.FailedState;
}

/// <summary>
/// The node side: makes the marked addresses of one network namespace match the desired set,
/// through netlink, and announces the ones it adds on Ethernet interfaces. Addresses without
/// the mark are never removed.
/// </summary>
public sealed class Dataplane : IDataplane
{
    private readonly RtNetlink _nl;
    private readonly PacketSocket _packets;
    private readonly Announcer _announcer;
    private readonly byte _mark;
    private readonly bool _announce;
    private readonly Dictionary<(string Interface, IPAddress Address, int Prefix), DateTime> _since = [];
    private readonly Dictionary<(int Index, IPAddress Address), CancellationTokenSource> _announcing = [];
    private readonly Lock _announcingGate = new();
    private readonly HashSet<int> _promoting = [];
    private readonly string? _netns;
    private readonly TimeProvider _time;
    private string? _chainScript;
    private string? _nftMissing;

    public Dataplane(string? netns, byte mark, bool announce = true, int announceRepeats = -1, TimeProvider? time = null)
    {
        _netns = netns;
        _time = time ?? TimeProvider.System;
        _nl = RtNetlink.Open(netns);
        try
        {
            Monitor = NetlinkMonitor.Open(netns, neighbours: announce);
            _packets = PacketSocket.Open(netns);
        }
        catch
        {
            _nl.Dispose();
            Monitor?.Dispose();
            throw;
        }

        _announcer = new Announcer(_packets) { Time = _time, Repeats = announceRepeats >= 0 ? [.. Announcer.Schedule.Take(announceRepeats)] : Announcer.Schedule };
        _mark = mark;
        _announce = announce;
    }

    /// <summary>Kernel changes in the namespace: a reason to look again.</summary>
    public NetlinkMonitor Monitor { get; }

    public System.Threading.Channels.ChannelReader<NetlinkChange> Changes => Monitor.Changes;

    public long AnnouncementsSent => _announcer.FramesSent;

    /// <summary>The node's first IPv4 address that extip did not put there, off loopback (the default BGP identifier).</summary>
    public IPAddress? PrimaryIPv4()
    {
        var links = _nl.Links().Where(l => !l.Flags.HasFlag(LinkFlags.Loopback)).Select(l => l.Index).ToHashSet();
        return _nl.Addresses(System.Net.Sockets.AddressFamily.InterNetwork)
            .Where(a => a.Protocol != _mark && a.Scope == 0 && links.Contains(a.InterfaceIndex))
            .OrderBy(a => a.InterfaceIndex).Select(a => a.Address).FirstOrDefault();
    }

    /// <summary>
    /// Every interface with its addresses, for the IPNode status (what <c>netshow l3</c> shows);
    /// up means it carries traffic: administratively up and with carrier (the controller moves
    /// the claims that need an interface off a node where it is not).
    /// Link-scope addresses (fe80::/64 on every interface, 169.254/16) are left out: they say
    /// nothing about what the node is reachable at, and would double the list.
    /// </summary>
    public IReadOnlyList<InterfaceState> Interfaces()
    {
        var byLink = _nl.Addresses().Where(a => a.Scope != Route.ScopeLink).ToLookup(a => a.InterfaceIndex);
        return _nl.Links().OrderBy(l => l.Index)
            .Select(l => new InterfaceState(l.Name, l.IsUp && l.Flags.HasFlag(LinkFlags.LowerUp), byLink[l.Index].Select(a => $"{a.Address}/{a.PrefixLength}").ToList()))
            .ToList();
    }

    /// <summary>The marked addresses on the node now.</summary>
    public IReadOnlyList<AddressEntry> Marked() => _nl.Addresses().Where(a => a.Protocol == _mark).ToList();

    /// <summary>Adds what is missing, removes what is marked and not wanted; returns the state of each wanted address.</summary>
    public IReadOnlyList<AddressState> Apply(IReadOnlyCollection<DesiredAddress> desired)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        var links = _nl.Links().ToDictionary(l => l.Name, StringComparer.Ordinal);
        var present = _nl.Addresses();
        var states = new List<AddressState>();
        var adds = new List<(DesiredAddress Want, Link Link)>();
        var refresh = new List<RtNetlink.AddressSpec>();
        var keep = new HashSet<(int, IPAddress, int)>();
        var quiet = new HashSet<(int, IPAddress)>();
        foreach (var want in desired)
        {
            if (!links.TryGetValue(want.Interface, out var link))
            {
                states.Add(new AddressState(want, AddressState.Pending, $"interface {want.Interface} does not exist on this node; waiting for it", now));
                continue;
            }

            var there = present.FirstOrDefault(a => a.InterfaceIndex == link.Index && a.Address.Equals(want.Address));
            if (there is null)
            {
                adds.Add((want, link));
            }
            else if (there.Protocol == _mark && there.PrefixLength != want.PrefixLength)
            {
                // Ours with another mask (the pool changed it): replace it.
                _nl.DeleteAddresses([Spec(link, there.Address, there.PrefixLength)]);
                adds.Add((want, link));
            }
            else if (there.Protocol != _mark && there.PrefixLength != want.PrefixLength)
            {
                states.Add(new AddressState(want, AddressState.Failed, $"{want.Address}/{there.PrefixLength} is already on {want.Interface}, not put there by extip; left as is", now));
            }
            else
            {
                keep.Add((link.Index, want.Address, want.PrefixLength));
                if (want.Quiet)
                {
                    quiet.Add((link.Index, want.Address));
                    StopAnnouncing(link.Index, want.Address);
                }
                else if (_quieted.Contains((link.Index, want.Address)))
                {
                    // Handed over and taken back before it went: the neighbours were told the
                    // other node has it, and nothing is added here to announce it again.
                    StartAnnouncing(link, want.Address);
                }

                states.Add(new AddressState(want, AddressState.Held, there.Protocol == _mark ? null : "was already on the interface (not put there by extip); extip will not remove it", Since(want, now)));
                if (there.Protocol == _mark && (want.LifetimeSeconds is not null || there.ValidSeconds != uint.MaxValue))
                {
                    // The kernel's fence moves on: a live agent pushes its addresses' end further.
                    refresh.Add(Spec(link, want.Address, want.PrefixLength) with { LifetimeSeconds = want.LifetimeSeconds });
                }
            }
        }

        if (adds.Count > 0)
        {
            foreach (var (want, link) in adds.Where(a => a.Want.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
            {
                PromoteSecondaries(link);
            }

            var results = _nl.AddAddresses(adds.Select(a => Spec(a.Link, a.Want.Address, a.Want.PrefixLength) with { LifetimeSeconds = a.Want.LifetimeSeconds }).ToList());
            for (var i = 0; i < adds.Count; i++)
            {
                var (want, link) = adds[i];
                if (results[i] is { } error)
                {
                    states.Add(new AddressState(want, AddressState.Failed, error.Message, now));
                    continue;
                }

                keep.Add((link.Index, want.Address, want.PrefixLength));
                _since[(want.Interface, want.Address, want.PrefixLength)] = now;
                states.Add(new AddressState(want, AddressState.Held, null, now));
                StartAnnouncing(link, want.Address);
            }
        }

        if (refresh.Count > 0 && _nl.ReplaceAddresses(refresh).FirstOrDefault(r => r is not null) is { } failed)
        {
            throw failed;
        }

        var stale = present.Where(a => a.Protocol == _mark && !keep.Contains((a.InterfaceIndex, a.Address, a.PrefixLength))).ToList();
        foreach (var link in links.Values.Where(l => stale.Any(a => a.InterfaceIndex == l.Index && a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)))
        {
            PromoteSecondaries(link);
        }

        Remove(stale);
        foreach (var index in _reannounce.Keys.ToList())
        {
            _reannounce.TryRemove(index, out _);
            if (links.Values.FirstOrDefault(l => l.Index == index) is { } link)
            {
                foreach (var (_, address, _) in keep.Where(k => k.Item1 == index && !quiet.Contains((k.Item1, k.Item2))))
                {
                    StartAnnouncing(link, address);
                }
            }
        }

        _quieted = quiet;
        foreach (var key in _since.Keys.Where(k => !desired.Any(d => (d.Interface, d.Address, d.PrefixLength) == k)).ToList())
        {
            _since.Remove(key);
        }

        return states;
    }

    /// <summary>
    /// Pushes the kernel lifetime of every marked address that has one to <paramref name="seconds"/>,
    /// adding and removing nothing: the addresses an agent keeps while it may not act on its claims
    /// yet (they are being listed again) must not run out underneath it. Returns how many.
    /// </summary>
    public int Extend(uint seconds)
    {
        var loopbacks = _nl.Links().Where(l => l.Flags.HasFlag(LinkFlags.Loopback)).Select(l => l.Index).ToHashSet();
        var refresh = Marked().Where(a => a.ValidSeconds != uint.MaxValue)
            .Select(a => new RtNetlink.AddressSpec(a.InterfaceIndex, a.Address, a.PrefixLength, _mark) { LifetimeSeconds = seconds, NotASource = !loopbacks.Contains(a.InterfaceIndex) })
            .ToList();
        if (refresh.Count > 0 && _nl.ReplaceAddresses(refresh).FirstOrDefault(r => r is not null) is { } failed)
        {
            throw failed;
        }

        return refresh.Count;
    }

    /// <summary>Removes every marked address (stop, fencing).</summary>
    public int RemoveAll()
    {
        var marked = Marked();
        Remove(marked);
        _since.Clear();
        _quieted = [];
        return marked.Count;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> _reannounce = new();

    /// <summary>The addresses the last <see cref="Apply"/> kept quiet (being handed over).</summary>
    private HashSet<(int, IPAddress)> _quieted = [];

    /// <summary>
    /// Asks the next <see cref="Apply"/> to announce again (burst and repeats) every address it
    /// keeps on the link: after a link comes back up, the neighbours' entries for them may be
    /// stale or point elsewhere. Done by Apply, which alone adds and removes addresses, so an
    /// address being given up is never announced.
    /// </summary>
    public void ReannounceLater(int linkIndex) => _reannounce[linkIndex] = true;

    /// <summary>
    /// Applies <see cref="Chaining.Script"/>'s rules in the node's namespace (libnftables), once per
    /// change (the first call also sweeps what an earlier agent left).
    /// </summary>
    public string? Chain(ConnectionChains chains)
    {
        var script = Chaining.Script(chains);
        if (script == _chainScript)
        {
            return null;
        }

        if (_nftMissing is { } missing)
        {
            return missing;
        }

        var error = Extip.Netlink.Nftables.Run(_netns, script, out var started);
        _chainScript = error is null ? script : null;
        _nftMissing = started ? null : error;
        return error;
    }

    public void Dispose()
    {
        if (_chainScript is not null && _chainScript != Chaining.Clear())
        {
            Extip.Netlink.Nftables.Run(_netns, Chaining.Clear(), out _);
        }

        lock (_announcingGate)
        {
            foreach (var cts in _announcing.Values)
            {
                cts.Cancel();
                cts.Dispose();
            }

            _announcing.Clear();
        }

        Monitor.Dispose();
        _packets.Dispose();
        _nl.Dispose();
    }

    private void Remove(IReadOnlyList<AddressEntry> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }

        foreach (var e in entries)
        {
            StopAnnouncing(e.InterfaceIndex, e.Address);
        }

        var results = _nl.DeleteAddresses(entries.Select(e => new RtNetlink.AddressSpec(e.InterfaceIndex, e.Address, e.PrefixLength, _mark)).ToList());
        if (results.FirstOrDefault(r => r is not null && r.Error != NetlinkError.NotFound && r.Error != NetlinkError.NoSuchDevice) is { } error)
        {
            throw error;
        }
    }

    private void StopAnnouncing(int linkIndex, IPAddress address)
    {
        CancellationTokenSource? cts;
        lock (_announcingGate)
        {
            _announcing.Remove((linkIndex, address), out cts);
        }

        if (cts is not null)
        {
            cts.Cancel();
            cts.Dispose();
        }
    }

    private void StartAnnouncing(Link link, IPAddress address)
    {
        if (!_announce || !link.HasNeighbours)
        {
            return;
        }

        var cts = new CancellationTokenSource();
        CancellationTokenSource? old;
        lock (_announcingGate)
        {
            _announcing.Remove((link.Index, address), out old);
            _announcing[(link.Index, address)] = cts;
        }

        if (old is not null)
        {
            old.Cancel();
            old.Dispose();
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await _announcer.AnnounceAsync(link, address, cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            catch (NetlinkException)
            {
                // The interface went away mid-announcement: the next Apply sees it.
            }
            catch (ObjectDisposedException)
            {
            }
        });
    }

    /// <summary>
    /// With <c>promote_secondaries</c> off (the default in a fresh namespace), deleting the first
    /// IPv4 address of a subnet on an interface deletes the others of that subnet with it: they
    /// would blink until the next pass. Turned on for each interface extip adds IPv4 addresses to.
    /// <para>
    /// And on any interface but <c>lo</c>, <c>arp_announce</c> 2: with the default 0, the kernel
    /// names the packet's source as the sender of its ARP requests, so a node answering a client
    /// from an extip address asks for the router's MAC "from" that address, and every neighbour
    /// on the segment takes this node's MAC for it again: after a handover the old holder pulled
    /// the address back to itself (measured in the lab: requests failed for up to 70 ms after a
    /// planned L2 move). With 2 the node's own address of the segment is named.
    /// </para>
    /// </summary>
    private void PromoteSecondaries(Link link)
    {
        if (!_promoting.Add(link.Index))
        {
            return;
        }

        try
        {
            // Through rtnetlink, not /proc/sys: a container's /proc/sys is read-only.
            _nl.SetIpv4Setting(link.Index, Rtnl.Ipv4DevconfPromoteSecondaries, 1);
            if (link.Name != "lo")
            {
                _nl.SetIpv4Setting(link.Index, Rtnl.Ipv4DevconfArpAnnounce, 2);
            }
        }
        catch (NetlinkException)
        {
            // Not fatal: without it a removal may blink a neighbour until the next pass.
            _promoting.Remove(link.Index);
        }
    }

    private DateTime Since(DesiredAddress want, DateTime now)
    {
        var key = (want.Interface, want.Address, want.PrefixLength);
        if (!_since.TryGetValue(key, out var since))
        {
            _since[key] = since = now;
        }

        return since;
    }

    /// <summary>
    /// An address of extip's on a link: on any interface but lo, never the node's own (no source
    /// address for its connections, no subnet route), so kubelet, CNIs and outgoing connections
    /// keep the node's real address.
    /// </summary>
    private RtNetlink.AddressSpec Spec(Link link, IPAddress address, int prefix) =>
        new(link.Index, address, prefix, _mark) { NotASource = !link.Flags.HasFlag(LinkFlags.Loopback) };
}
