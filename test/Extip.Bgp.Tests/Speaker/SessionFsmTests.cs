using System.Net;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Microsoft.Extensions.Logging.Abstractions;
using Extip.Testing.Time;

namespace Extip.Bgp.Tests.Speaker;

/// <summary>
/// The session's state machine (RFC 4271 §8) and its timers, without sockets, root or a router:
/// the session talks over an in-memory pipe to the test, which plays the peer, and its clock is
/// virtual, so that "the hold timer expires after 9 s, not before" is a statement about the
/// code, not about how busy the machine is. The same behaviour against BIRD, FRR and GoBGP over
/// real TCP is in <see cref="DaemonSessionTests"/>, <see cref="CollisionTests"/> and the lab.
/// </summary>
public sealed class SessionFsmTests
{
    private const uint OurAs = 64512;
    private const uint TheirAs = 64500;
    private static readonly IPEndPoint Us = new(IPAddress.Parse("198.51.100.1"), 40001);
    private static readonly IPEndPoint Them = new(IPAddress.Parse("198.51.100.100"), 179);
    private static readonly uint TheirId = PeerOptions.RouterIdOf(Them.Address);

    private sealed class Peer(VirtualClock clock, MemoryConnector connector, BgpSession session) : IAsyncDisposable
    {
        public VirtualClock Clock => clock;

        public MemoryConnector Connector => connector;

        public BgpSession Session => session;

        public async ValueTask DisposeAsync() => await session.DisposeAsync();
    }

    private static PeerOptions Options(VirtualClock clock) => new()
    {
        PeerAddress = Them.Address,
        LocalAs = OurAs,
        PeerAs = TheirAs,
        RouterId = PeerOptions.RouterIdOf(Us.Address),
        HoldTime = TimeSpan.FromSeconds(9),
        ConnectRetry = TimeSpan.FromSeconds(5),
        Time = clock,
    };

    private static Peer Start(Func<PeerOptions, PeerOptions>? configure = null, MemoryConnector.Answer answer = MemoryConnector.Answer.Accept)
    {
        var clock = new VirtualClock();
        var connector = new MemoryConnector(Us, Them) { Next = answer };
        var options = Options(clock);
        var session = new BgpSession(configure?.Invoke(options) ?? options, NullLogger.Instance, connector);
        session.Start();
        return new Peer(clock, connector, session);
    }

    private static OpenMessage TheirOpen(ushort hold = 9, uint asn = TheirAs, uint id = 0, IReadOnlyList<Capability>? capabilities = null) =>
        new(4, (ushort)asn, hold, id == 0 ? TheirId : id, capabilities ?? [new MultiprotocolCapability(AfiSafi.IPv4Unicast), new FourOctetAsCapability(asn)]);

    private static async Task<PeerWire> EstablishAsync(Peer p, ushort hold = 9)
    {
        var wire = await p.Connector.NextAsync();
        await wire.ExpectAsync<OpenMessage>();
        await wire.SendAsync(TheirOpen(hold));
        await wire.ExpectAsync<KeepaliveMessage>();
        await wire.SendAsync(KeepaliveMessage.Instance);
        await StateAsync(p.Session, SessionState.Established);
        return wire;
    }

    private static Task StateAsync(BgpSession session, SessionState state)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        session.StateChanged += (_, s) =>
        {
            if (s == state)
            {
                reached.TrySetResult();
            }
        };
        if (session.State == state)
        {
            reached.TrySetResult();
        }

        return reached.Task;
    }

    [Fact]
    public async Task HoldTimer_ExpiresAfterTheNegotiatedHoldTime_NotBefore_WithANotification()
    {
        await using var p = Start();
        var wire = await EstablishAsync(p);
        await p.Clock.ArmedWithinAsync(TimeSpan.FromSeconds(3));

        // 8 s of silence from the peer: the session is alive and says so with a KEEPALIVE.
        p.Clock.Advance(TimeSpan.FromSeconds(8));
        await wire.ExpectAsync<KeepaliveMessage>();
        Assert.Equal(SessionState.Established, p.Session.State);

        // The 9th second: Hold Timer Expired (§6.5), and the connection closes.
        await HoldExpiresInASecondAsync(p, wire, 9);
        Assert.Null(await wire.ReadAsync());
        Assert.NotEqual(SessionState.Established, p.Session.State);
    }

    /// <summary>The hold timer is armed to expire one second from now: then the session says Hold Timer Expired, naming the hold time.</summary>
    private static async Task HoldExpiresInASecondAsync(Peer p, PeerWire wire, int holdSeconds)
    {
        await p.Clock.ArmedAsync(TimeSpan.FromSeconds(1));
        p.Clock.Advance(TimeSpan.FromSeconds(1));
        var n = await wire.ExpectAsync<NotificationMessage>();
        Assert.Equal((BgpError.HoldTimerExpired, (byte)0), (n.Code, n.Subcode));
        Assert.Contains($"nothing from the peer for {holdSeconds} s", p.Session.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HoldTimer_IsTheSmallerOfOursAndThePeers_AndEveryMessageFromThePeerRestartsIt()
    {
        await using var p = Start(o => o with { HoldTime = TimeSpan.FromSeconds(90) });
        var wire = await EstablishAsync(p, hold: 6);
        p.Session.Announce(RouterLab.Routes("192.0.2.40/32"));
        await wire.ExpectAsync<UpdateMessage>();
        await wire.ExpectAsync<UpdateMessage>();
        await p.Clock.ArmedWithinAsync(TimeSpan.FromSeconds(2));

        // At 5 s the peer speaks (a ROUTE-REFRESH, whose answer shows it was read): the hold timer starts again from there.
        p.Clock.Advance(TimeSpan.FromSeconds(5));
        await wire.ExpectAsync<KeepaliveMessage>();
        await wire.SendAsync(new RouteRefreshMessage(AfiSafi.IPv4Unicast));
        await wire.ExpectAsync<UpdateMessage>();

        // The session's next wake-up, the keepalive 1.5–2 s after the one at 5 s, is armed before the clock moves on
        // (the hold timer it replaces was due at 6 s exactly).
        var established = p.Clock.Start;
        await p.Clock.ArmedWhereAsync(due => due > established + TimeSpan.FromSeconds(6) && due <= established + TimeSpan.FromSeconds(7), "the next keepalive");

        // 10 s after Established, 5 s after the peer's message: still up.
        p.Clock.Advance(TimeSpan.FromSeconds(5));
        await wire.ExpectAsync<KeepaliveMessage>();
        Assert.Equal(SessionState.Established, p.Session.State);

        await HoldExpiresInASecondAsync(p, wire, 6);
    }

    [Fact]
    public async Task Keepalives_ComeAtAThirdOfTheHoldTime_Jittered()
    {
        await using var p = Start(o => o with { HoldTime = TimeSpan.FromSeconds(30) });
        var wire = await EstablishAsync(p, hold: 30);

        // §10: 75–100 % of hold / 3 = 7.5–10 s. The timer the session arms says when.
        for (var i = 0; i < 5; i++)
        {
            await p.Clock.ArmedWithinAsync(TimeSpan.FromSeconds(10));
            p.Clock.Advance(TimeSpan.FromSeconds(10));
            await wire.ExpectAsync<KeepaliveMessage>();
            await wire.SendAsync(KeepaliveMessage.Instance);
        }

        Assert.Equal(SessionState.Established, p.Session.State);
        Assert.Equal(1, p.Session.TimesEstablished);
    }

    [Fact]
    public async Task ConnectRefused_GoesActive_AndTriesAgainAfterTheConnectRetryTime()
    {
        await using var p = Start(answer: MemoryConnector.Answer.Refuse);
        await StateAsync(p.Session, SessionState.Active);
        Assert.Equal(1, p.Connector.Attempts);

        // Active waits a jittered connect-retry time (3.75 s up to 5 s, which is the first attempt's own deadline), then Connect again.
        await p.Clock.ArmedWithinAsync(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        p.Connector.Next = MemoryConnector.Answer.Accept;
        p.Clock.Advance(TimeSpan.FromSeconds(5));
        var wire = await p.Connector.NextAsync();
        Assert.Equal(2, p.Connector.Attempts);
        await wire.ExpectAsync<OpenMessage>();
    }

    [Fact]
    public async Task ConnectUnanswered_IsGivenUpAfterTheConnectRetryTime()
    {
        await using var p = Start(answer: MemoryConnector.Answer.Silence);
        await p.Clock.ArmedAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(SessionState.Connect, p.Session.State);

        p.Clock.Advance(TimeSpan.FromSeconds(5));
        await StateAsync(p.Session, SessionState.Active);
        Assert.Equal(1, p.Connector.Attempts);
    }

    [Fact]
    public async Task Active_TakesTheConnectionThePeerMakes()
    {
        await using var p = Start(o => o with { Passive = true });
        await StateAsync(p.Session, SessionState.Active);

        var (ours, theirs) = MemoryPipe.Create(Us, Them);
        p.Session.Accept(ours);
        var wire = new PeerWire(theirs);
        var open = await wire.ExpectAsync<OpenMessage>();
        Assert.Equal(OurAs, open.Asn);
        Assert.Equal(0, p.Connector.Attempts);
        await wire.SendAsync(TheirOpen());
        await wire.ExpectAsync<KeepaliveMessage>();
        await wire.SendAsync(KeepaliveMessage.Instance);
        await StateAsync(p.Session, SessionState.Established);
    }

    public static TheoryData<string, byte, byte> BadOpens => new()
    {
        { "peer AS", BgpError.OpenMessage, BgpError.BadPeerAs },
        { "hold time 2", BgpError.OpenMessage, BgpError.UnacceptableHoldTime },
        { "identifier 0", BgpError.OpenMessage, BgpError.BadBgpIdentifier },
        { "no IPv4 unicast", BgpError.OpenMessage, BgpError.UnsupportedCapability },
        { "UPDATE first", BgpError.Fsm, BgpError.UnexpectedInOpenSent },
    };

    [Theory]
    [MemberData(nameof(BadOpens))]
    public async Task OpenChecks_EachFailureIsTheNotificationThatNamesIt(string what, byte code, byte subcode)
    {
        await using var p = Start();
        var wire = await p.Connector.NextAsync();
        await wire.ExpectAsync<OpenMessage>();
        BgpMessage bad = what switch
        {
            "peer AS" => TheirOpen(asn: 64999),
            "hold time 2" => TheirOpen(hold: 2),
            "identifier 0" => TheirOpen() with { BgpId = 0 },
            "no IPv4 unicast" => TheirOpen(capabilities: [new MultiprotocolCapability(AfiSafi.IPv6Unicast), new FourOctetAsCapability(TheirAs)]),
            _ => new UpdateMessage([], [], []),
        };
        await wire.SendAsync(bad);

        var n = await wire.ExpectAsync<NotificationMessage>();
        Assert.Equal((code, subcode), (n.Code, n.Subcode));
        if (what == "peer AS")
        {
            Assert.Equal(new byte[] { 64999 >> 8, 64999 & 0xff }, n.Data);
        }

        Assert.Null(await wire.ReadAsync());
        Assert.Equal(0, p.Session.TimesEstablished);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Collision_TheConnectionStartedByTheHigherIdentifierStays(bool peerIsHigher)
    {
        // Our identifier is 198.51.100.1; the peer's is above or below it.
        var peerId = PeerOptions.RouterIdOf(IPAddress.Parse(peerIsHigher ? "198.51.100.200" : "198.51.100.0"));
        await using var p = Start();
        var outgoing = await p.Connector.NextAsync();
        await outgoing.ExpectAsync<OpenMessage>();
        await outgoing.SendAsync(TheirOpen(id: peerId));
        await outgoing.ExpectAsync<KeepaliveMessage>();
        await StateAsync(p.Session, SessionState.OpenConfirm);

        // The peer's own connection arrives while ours is in OpenConfirm.
        var (ours, theirs) = MemoryPipe.Create(Us, Them);
        p.Session.Accept(ours);
        var incoming = new PeerWire(theirs);
        await incoming.ExpectAsync<OpenMessage>();
        var (loser, winner) = peerIsHigher ? (outgoing, incoming) : (incoming, outgoing);
        var n = await loser.ExpectAsync<NotificationMessage>();
        Assert.Equal((BgpError.Cease, BgpError.ConnectionCollisionResolution), (n.Code, n.Subcode));
        Assert.Null(await loser.ReadAsync());

        if (peerIsHigher)
        {
            await winner.SendAsync(TheirOpen(id: peerId));
            await winner.ExpectAsync<KeepaliveMessage>();
        }

        await winner.SendAsync(KeepaliveMessage.Instance);
        await StateAsync(p.Session, SessionState.Established);
        Assert.False(winner.End.Closed);
    }

    [Fact]
    public async Task Established_SendsNothingUntilTheRoutesAreKnown_ThenTheRoutesAndEndOfRib()
    {
        await using var p = Start(o => o with { GracefulRestart = true });
        var wire = await EstablishAsync(p);

        // Before Announce: nothing (a helper would drop our stale routes at an early End-of-RIB).
        await p.Clock.ArmedWithinAsync(TimeSpan.FromSeconds(3));
        p.Clock.Advance(TimeSpan.FromSeconds(3));
        await wire.ExpectAsync<KeepaliveMessage>();

        p.Session.Announce(RouterLab.Routes("192.0.2.10/32", "192.0.2.11/32"));
        var update = await wire.ExpectAsync<UpdateMessage>();
        Assert.Equal(["192.0.2.10/32", "192.0.2.11/32"], update.Nlri.Select(n => n.ToString()).Order(StringComparer.Ordinal));
        Assert.Equal(Us.Address, update.Attributes.OfType<NextHopAttribute>().Single().Address);
        var endOfRib = await wire.ExpectAsync<UpdateMessage>();
        Assert.True(endOfRib.IsEndOfRib, endOfRib.ToString());
        Assert.Equal(UpdateMessage.EndOfRib(AfiSafi.IPv4Unicast), endOfRib);

        // A change goes out at once, as a withdrawal.
        p.Session.Announce(RouterLab.Routes("192.0.2.10/32"));
        var withdrawal = await wire.ExpectAsync<UpdateMessage>();
        Assert.Equal(["192.0.2.11/32"], withdrawal.Withdrawn.Select(n => n.ToString()));
    }

    [Fact]
    public async Task RouteRefresh_SendsTheWholeRibAgain()
    {
        await using var p = Start();
        var wire = await EstablishAsync(p);
        p.Session.Announce(RouterLab.Routes("192.0.2.20/32"));
        Assert.Single((await wire.ExpectAsync<UpdateMessage>()).Nlri);
        await wire.ExpectAsync<UpdateMessage>();

        await wire.SendAsync(new RouteRefreshMessage(AfiSafi.IPv4Unicast));
        Assert.Equal(["192.0.2.20/32"], (await wire.ExpectAsync<UpdateMessage>()).Nlri.Select(n => n.ToString()));
    }

    [Fact]
    public async Task Shutdown_WithdrawsEverything_ThenSaysCeaseAdministrativeShutdown()
    {
        var p = Start();
        var wire = await EstablishAsync(p);
        p.Session.Announce(RouterLab.Routes("192.0.2.30/32"));
        await wire.ExpectAsync<UpdateMessage>();
        await wire.ExpectAsync<UpdateMessage>();

        var stopping = p.Session.ShutdownAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(["192.0.2.30/32"], (await wire.ExpectAsync<UpdateMessage>()).Withdrawn.Select(n => n.ToString()));
        var n = await wire.ExpectAsync<NotificationMessage>();
        Assert.Equal((BgpError.Cease, BgpError.AdministrativeShutdown), (n.Code, n.Subcode));
        Assert.Null(await wire.ReadAsync());
        await stopping;
        Assert.Equal(SessionState.Idle, p.Session.State);
    }
}
