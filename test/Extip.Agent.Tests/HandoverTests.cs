using System.Net;
using Extip.Kubernetes.Models;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;

namespace Extip.Agent.Tests;

/// <summary>Make-before-break for the addresses a live agent gives up, in virtual time.</summary>
public sealed class HandoverTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly Handover _handover;
    private readonly HashSet<string> _holding = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IpClaim> _claims = new(StringComparer.Ordinal);

    public HandoverTests() => _handover = new Handover(_time, TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(200));

    private static DesiredAddress Want(string ip, string mode = "L2", string iface = "eth0") => new(IPAddress.Parse(ip), 32, iface, Enum.Parse<Extip.Core.Pools.AnnounceMode>(mode), ip.Replace('.', '-'));

    private static AddressState Held(DesiredAddress want) => new(want, AddressState.Held, null, DateTime.UnixEpoch);

    private void Claim(DesiredAddress want, string distribution, params string[] nodes) => _claims[want.Claim] = new IpClaim
    {
        Metadata = new V1ObjectMeta { Name = want.Claim },
        Spec = new IpClaimSpecModel { Address = want.Address.ToString(), PrefixLength = want.PrefixLength, Interface = want.Interface, Mode = want.Mode.ToString(), Distribution = distribution, Nodes = [.. nodes] },
    };

    private HandoverPass Pass(params AddressState[] previous) => Pass(true, previous);

    private HandoverPass Pass(bool canSilenceL2, params AddressState[] previous) =>
        _handover.Pass(previous, new HashSet<string>(StringComparer.Ordinal), n => _claims.GetValueOrDefault(n), (node, _) => _holding.Contains(node), _time.GetTimestamp(), canSilenceL2);

    [Fact]
    public void MovedL2Address_KeptUntilTheNewNodeHoldsIt_ThenForTheOverlap_ThenSilenced_ThenGone()
    {
        var a = Want("192.0.2.1");
        Claim(a, "Balance", "b");
        var first = Pass(Held(a));
        Assert.Equal([a], first.Kept.Select(k => k.Want));
        Assert.Empty(first.Withdrawn);
        Assert.Equal(TimeSpan.FromSeconds(2), first.Recheck);
        Assert.Equal(1, _handover.Count);

        _time.Advance(TimeSpan.FromMilliseconds(300));
        Assert.Single(Pass(Held(a)).Kept);

        // b says it holds it: the L2 address stays for the overlap (b's announcements may still be
        // on their way), taken (no longer answered for), then for the withdrawal delay, for the
        // connections b chains back here, then goes.
        Assert.Empty(Pass(Held(a)).Taken);
        _holding.Add("b");
        var overlapping = Pass(Held(a));
        Assert.Single(overlapping.Kept);
        Assert.Equal([a.Claim], overlapping.Taken);
        Assert.Empty(overlapping.Withdrawn);
        Assert.Equal(TimeSpan.FromMilliseconds(200), overlapping.Recheck);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        var draining = Pass(Held(a));
        Assert.Single(draining.Kept);
        Assert.Equal([a.Claim], draining.Taken);
        Assert.Equal([a.Claim], draining.Withdrawn);
        Assert.Equal(TimeSpan.FromMilliseconds(500), draining.Recheck);
        _time.Advance(TimeSpan.FromMilliseconds(500));
        var done = Pass(Held(a));
        Assert.Empty(done.Kept);
        Assert.Null(done.Recheck);
        Assert.Equal(0, _handover.Count);
        Assert.Equal(0, _handover.TimedOut);
    }

    [Fact]
    public void MovedL2Address_WhereArpCannotBeSilenced_GoesRightAfterTheOverlap()
    {
        var a = Want("192.0.2.3");
        Claim(a, "Balance", "b");
        Assert.Single(Pass(false, Held(a)).Kept);
        _holding.Add("b");
        Assert.Single(Pass(false, Held(a)).Kept);
        _time.Advance(TimeSpan.FromMilliseconds(200));

        // Kept longer it would answer ARP beside b: it goes with the overlap.
        var done = Pass(false, Held(a));
        Assert.Empty(done.Kept);
        Assert.Empty(done.Withdrawn);
        Assert.Equal(0, _handover.Count);
    }

    [Fact]
    public void MovedBgpAddress_AnnouncedUntilTaken_ThenWithdrawn_ThenGoneAfterTheDelay()
    {
        var a = Want("192.0.2.2", "BGP", "lo");
        Claim(a, "Balance", "b");
        var handing = Pass(Held(a));
        Assert.Single(handing.Kept);
        Assert.Empty(handing.Withdrawn);

        // b says it holds it: still announced for the overlap (b's route may not be in the router yet).
        _holding.Add("b");
        var overlapping = Pass(Held(a));
        Assert.Single(overlapping.Kept);
        Assert.Empty(overlapping.Withdrawn);
        Assert.Equal(TimeSpan.FromMilliseconds(200), overlapping.Recheck);
        _time.Advance(TimeSpan.FromMilliseconds(200));

        var withdrawn = Pass(Held(a));
        Assert.Single(withdrawn.Kept);
        Assert.Equal([a.Claim], withdrawn.Withdrawn);
        Assert.Equal(TimeSpan.FromMilliseconds(500), withdrawn.Recheck);

        _time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.Equal([a.Claim], Pass(Held(a)).Withdrawn);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Empty(Pass(Held(a)).Kept);
        Assert.Equal(0, _handover.Count);
    }

    [Fact]
    public void NewNodeNeverTakesIt_GivenUpAfterTheTimeout_Counted()
    {
        var a = Want("192.0.2.3");
        Claim(a, "Balance", "b");
        Assert.Single(Pass(Held(a)).Kept);
        _time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.Equal(TimeSpan.FromMilliseconds(1), Pass(Held(a)).Recheck);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Empty(Pass(Held(a)).Kept);
        Assert.Equal(1, _handover.TimedOut);
    }

    [Fact]
    public void AllClaimLeft_WhileOthersHoldIt_WithdrawnFirst()
    {
        var a = Want("192.0.2.4", "BGP", "lo");
        Claim(a, "All", "b", "c");
        _holding.Add("b");
        _holding.Add("c");
        Assert.Empty(Pass(Held(a)).Withdrawn);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        var p = Pass(Held(a));
        Assert.Equal([a.Claim], p.Withdrawn);

        // Every node the claim names must hold it: one of two is not enough.
        var b2 = Want("192.0.2.5", "BGP", "lo");
        Claim(b2, "All", "b", "d");
        Assert.DoesNotContain(b2.Claim, Pass(Held(a), Held(b2)).Withdrawn);
    }

    [Fact]
    public void NobodyTakesItOver_GoneAtOnce()
    {
        // The claim was deleted (its Service went), or names no node, or now says another interface.
        var deleted = Want("192.0.2.6");
        var none = Want("192.0.2.7");
        Claim(none, "Balance");
        var moved = Want("192.0.2.8");
        Claim(moved with { Interface = "eth1" }, "Balance", "b");
        var p = Pass(Held(deleted), Held(none), Held(moved));
        Assert.Empty(p.Kept);
        Assert.Equal(0, _handover.Count);
    }

    [Fact]
    public void StillWanted_OrNotHeld_NotTouched()
    {
        var a = Want("192.0.2.9");
        Claim(a, "Balance", "b");
        var wanted = _handover.Pass([Held(a)], new HashSet<string>([a.Claim], StringComparer.Ordinal), n => _claims.GetValueOrDefault(n), (_, _) => false, _time.GetTimestamp());
        Assert.Empty(wanted.Kept);
        Assert.Empty(Pass(new AddressState(a, AddressState.Pending, "no interface", DateTime.UnixEpoch)).Kept);
    }

    [Fact]
    public void ComesBack_ThenMovesAgain_ANewHandoverWithItsOwnTimeout()
    {
        var a = Want("192.0.2.10");
        Claim(a, "Balance", "b");
        Pass(Held(a));
        _time.Advance(TimeSpan.FromSeconds(1.5));

        // The claim names this node again: wanted, the handover is over.
        _handover.Pass([Held(a)], new HashSet<string>([a.Claim], StringComparer.Ordinal), n => _claims.GetValueOrDefault(n), (_, _) => false, _time.GetTimestamp());
        Assert.Equal(0, _handover.Count);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(2), Pass(Held(a)).Recheck);
    }

    [Fact]
    public void ZeroTimeout_NoHandover()
    {
        var off = new Handover(_time, TimeSpan.Zero, TimeSpan.FromMilliseconds(500));
        var a = Want("192.0.2.11", "BGP", "lo");
        Claim(a, "Balance", "b");
        Assert.Empty(off.Pass([Held(a)], new HashSet<string>(StringComparer.Ordinal), n => _claims.GetValueOrDefault(n), (_, _) => false, _time.GetTimestamp()).Kept);
    }
}
