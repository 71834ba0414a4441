using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Extip.Lab;
using Extip.Netlink;
using Extip.Testing.Cluster;

namespace Extip.Bgp.Tests.Speaker;

/// <summary>
/// RFC 4271 §6.8, step by step: the test plays the peer with raw sockets in the router's
/// namespace, opens a second connection while the speaker's own is in OpenSent, and checks that
/// the connection started by the side with the higher BGP identifier is the one that stays.
/// </summary>
public sealed class CollisionTests
{
    private static readonly uint PeerId = PeerOptions.RouterIdOf(IPAddress.Parse("198.51.100.100"));

    /// <summary>One TCP connection of the fake peer, reading and writing whole BGP messages.</summary>
    private sealed class Wire(Socket socket) : IDisposable
    {
        private readonly List<byte> _pending = [];

        public async Task SendAsync(BgpMessage m) => await socket.SendAsync(BgpCodec.Encode(m, CodecContext.Modern));

        public async Task<BgpMessage?> ReadAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            var buffer = new byte[4096];
            while (true)
            {
                var m = BgpCodec.TryDecode(_pending.ToArray(), CodecContext.Modern, out var used);
                if (m is not null)
                {
                    _pending.RemoveRange(0, used);
                    return m;
                }

                int n;
                try
                {
                    n = await socket.ReceiveAsync(buffer, cts.Token);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
                {
                    return null;
                }

                if (n == 0)
                {
                    return null;
                }

                _pending.AddRange(buffer.AsSpan(0, n).ToArray());
            }
        }

        public void Dispose() => socket.Dispose();
    }

    private static OpenMessage PeerOpen() =>
        new(4, (ushort)RouterLab.RouterAs, 9, PeerId, [new MultiprotocolCapability(AfiSafi.IPv4Unicast), new FourOctetAsCapability(RouterLab.RouterAs)]);

    [Theory]
    [InlineData("192.0.2.1", false)] // our identifier is lower: the peer's connection stays
    [InlineData("203.0.113.1", true)] // ours is higher: our connection stays
    public async Task SecondConnectionInOpenSent_TheHigherIdentifiersConnectionStays(string ourId, bool oursStays)
    {
        await using var lab = new RouterLab();
        var node = lab.Fabric.AddNode("n1");
        using var listener = NetNs.Run(lab.Fabric.Router, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        listener.Bind(new IPEndPoint(Fabric.RouterV4, 179));
        listener.Listen(4);

        await using var speaker = new BgpSpeaker(node, lab.Logs);
        speaker.Listen();
        speaker.Announce(RouterLab.Routes("192.0.2.10/32"));
        var session = speaker.AddPeer(new PeerOptions
        {
            PeerAddress = Fabric.RouterV4, LocalAs = RouterLab.NodeAs, PeerAs = RouterLab.RouterAs,
            RouterId = PeerOptions.RouterIdOf(IPAddress.Parse(ourId)), HoldTime = TimeSpan.FromSeconds(9), ConnectRetry = TimeSpan.FromSeconds(5),
        });

        // 1. The speaker connects (connection A, ours) and sends its OPEN; the peer holds back its own.
        using var a = new Wire(await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.IsType<OpenMessage>(await a.ReadAsync(TimeSpan.FromSeconds(5)));
        await TestEnv.EventuallyAsync(() => Task.FromResult(session.State), s => s == SessionState.OpenSent, TimeSpan.FromSeconds(60), "the session in OpenSent");

        // 2. The peer connects too (connection B, the peer's) and sends its OPEN there.
        var bSocket = NetNs.Run(lab.Fabric.Router, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        await bSocket.ConnectAsync(new IPEndPoint(lab.Fabric.V4("n1"), 179));
        using var b = new Wire(bSocket);
        await b.SendAsync(PeerOpen());

        // 3. The peer's OPEN on A: the speaker reaches OpenConfirm there and settles the collision.
        await a.SendAsync(PeerOpen());
        Assert.IsType<KeepaliveMessage>(await a.ReadAsync(TimeSpan.FromSeconds(5)));
        var (kept, closed) = oursStays ? (a, b) : (b, a);

        // Either way B gets our OPEN: as the new session's first message, or before its Cease.
        Assert.IsType<OpenMessage>(await b.ReadAsync(TimeSpan.FromSeconds(5)));

        var notification = Assert.IsType<NotificationMessage>(await closed.ReadAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal((BgpError.Cease, BgpError.ConnectionCollisionResolution), (notification.Code, notification.Subcode));
        Assert.Null(await closed.ReadAsync(TimeSpan.FromSeconds(5)));

        // 4. The kept connection becomes the session.
        if (!oursStays)
        {
            Assert.IsType<KeepaliveMessage>(await kept.ReadAsync(TimeSpan.FromSeconds(5)));
        }

        await kept.SendAsync(KeepaliveMessage.Instance);
        var update = Assert.IsType<UpdateMessage>(await kept.ReadAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal([Prefix.Parse("192.0.2.10/32")], update.Nlri);
        Assert.Equal(SessionState.Established, session.State);

        // Our own connection has an ephemeral local port; the one we accepted, 179.
        Assert.Equal(!oursStays, session.LocalEndPoint!.Port == 179);
    }

    [Fact]
    public async Task Passive_WaitsForThePeer_AndTakesItsConnection()
    {
        await using var lab = new RouterLab();
        var node = lab.Fabric.AddNode("n1");
        await using var speaker = new BgpSpeaker(node, lab.Logs);
        speaker.Listen();
        var session = speaker.AddPeer(new PeerOptions
        {
            PeerAddress = Fabric.RouterV4, LocalAs = RouterLab.NodeAs, PeerAs = RouterLab.RouterAs, Passive = true,
            RouterId = PeerOptions.RouterIdOf(lab.Fabric.V4("n1")), HoldTime = TimeSpan.FromSeconds(9),
        });

        // It knows its routes (none): once Established it says End-of-RIB at once.
        speaker.Announce(new Dictionary<Prefix, RouteAttributes>());

        // Passive: it waits in Active (on a busy machine it may take a while to get there) and never connects.
        await TestEnv.EventuallyAsync(() => Task.FromResult(session.State), s => s == SessionState.Active, TimeSpan.FromSeconds(60), "the passive session in Active");

        var socket = NetNs.Run(lab.Fabric.Router, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        await socket.ConnectAsync(new IPEndPoint(lab.Fabric.V4("n1"), 179));
        using var peer = new Wire(socket);
        await peer.SendAsync(PeerOpen());
        Assert.IsType<OpenMessage>(await peer.ReadAsync(TimeSpan.FromSeconds(5)));
        Assert.IsType<KeepaliveMessage>(await peer.ReadAsync(TimeSpan.FromSeconds(5)));
        await peer.SendAsync(KeepaliveMessage.Instance);
        Assert.IsType<UpdateMessage>(await peer.ReadAsync(TimeSpan.FromSeconds(5))); // End-of-RIB
        Assert.Equal(SessionState.Established, session.State);
        Assert.Equal(179, session.LocalEndPoint!.Port);
    }

    [Fact]
    public async Task UnknownPeerConnecting_IsTurnedAwayWithCease()
    {
        await using var lab = new RouterLab();
        var node = lab.Fabric.AddNode("n1");
        await using var speaker = new BgpSpeaker(node, lab.Logs);
        speaker.Listen();
        var socket = NetNs.Run(lab.Fabric.Router, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        await socket.ConnectAsync(new IPEndPoint(lab.Fabric.V4("n1"), 179));
        using var stranger = new Wire(socket);
        var n = Assert.IsType<NotificationMessage>(await stranger.ReadAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal((BgpError.Cease, BgpError.ConnectionRejected), (n.Code, n.Subcode));
    }
}
