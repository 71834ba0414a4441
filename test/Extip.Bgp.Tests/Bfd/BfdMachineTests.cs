using Extip.Bgp.Bfd;

namespace Extip.Bgp.Tests.Bfd;

/// <summary>
/// Two BFD machines on a simulated link, in virtual time: every packet takes a millisecond, and
/// the link can be cut in either direction. Time jumps from one deadline to the next.
/// </summary>
public sealed class BfdMachineTests
{
    private static readonly BfdOptions Fast = new() { MinTx = TimeSpan.FromMilliseconds(50), MinRx = TimeSpan.FromMilliseconds(50), Multiplier = 3 };

    private sealed class Link(BfdMachine a, BfdMachine b)
    {
        private readonly List<(TimeSpan At, bool ToB, BfdPacket Packet)> _inFlight = [];

        public TimeSpan Now { get; private set; }

        public bool CutAToB { get; set; }

        public bool CutBToA { get; set; }

        public List<(TimeSpan At, string Who, BfdTransition Change)> Changes { get; } = [];

        public List<(TimeSpan At, string Who, BfdPacket Packet)> Sent { get; } = [];

        public void RunUntil(TimeSpan end)
        {
            while (true)
            {
                var next = new[] { a.NextTransmit, b.NextTransmit, a.DetectionDeadline, b.DetectionDeadline }
                    .Concat(_inFlight.Select(f => f.At)).Min();
                if (next > end)
                {
                    Now = end;
                    return;
                }

                Now = next < Now ? Now : next;
                foreach (var f in _inFlight.Where(f => f.At <= Now).ToList())
                {
                    _inFlight.Remove(f);
                    var (to, name) = f.ToB ? (b, "b") : (a, "a");
                    Note(name, to.Receive(f.Packet, Now, out var final));
                    if (final)
                    {
                        Send(to == a, to.FinalPacket());
                    }
                }

                Note("a", a.Expire(Now));
                Note("b", b.Expire(Now));
                if (a.Transmit(Now) is { } pa)
                {
                    Send(true, pa);
                }

                if (b.Transmit(Now) is { } pb)
                {
                    Send(false, pb);
                }
            }
        }

        private void Send(bool fromA, BfdPacket p)
        {
            Sent.Add((Now, fromA ? "a" : "b", p));
            if (fromA ? !CutAToB : !CutBToA)
            {
                _inFlight.Add((Now + TimeSpan.FromMilliseconds(1), fromA, p));
            }
        }

        private void Note(string who, BfdTransition? change)
        {
            if (change is { } c)
            {
                Changes.Add((Now, who, c));
            }
        }
    }

    private static (BfdMachine A, BfdMachine B, Link Link) Pair(BfdOptions? a = null, BfdOptions? b = null, int seed = 1)
    {
        var ma = new BfdMachine(a ?? Fast, 0x0a, TimeSpan.Zero, new Random(seed));
        var mb = new BfdMachine(b ?? Fast, 0x0b, TimeSpan.Zero, new Random(seed + 1));
        return (ma, mb, new Link(ma, mb));
    }

    [Fact]
    public void BothActive_ComeUpThroughInit_ThenPollDownToTheFastTimers()
    {
        var (a, b, link) = Pair();
        link.RunUntil(TimeSpan.FromSeconds(5));
        Assert.Equal((BfdState.Up, BfdState.Up), (a.State, b.State));
        Assert.Equal(0x0bu, a.RemoteDiscriminator);
        Assert.Equal(0x0au, b.RemoteDiscriminator);
        Assert.Equal(TimeSpan.FromMilliseconds(50), a.TransmitInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(150), a.DetectionTime);
        Assert.False(a.Polling);

        // Down -> Init -> Up for one, Down -> Up for the other (RFC 5880 §6.2 three-way handshake).
        var aStates = link.Changes.Where(c => c.Who == "a").Select(c => c.Change.To).ToList();
        var bStates = link.Changes.Where(c => c.Who == "b").Select(c => c.Change.To).ToList();
        Assert.Equal(BfdState.Up, aStates[^1]);
        Assert.Equal(BfdState.Up, bStates[^1]);
        Assert.Contains(BfdState.Init, aStates.Concat(bStates));

        // §6.8.3: every packet sent before Up offers at least one second.
        Assert.All(link.Sent.Where(s => s.Packet.State != BfdState.Up), s => Assert.True(s.Packet.DesiredMinTxUs >= 1_000_000, s.Packet.ToString()));

        // The change to 50 ms went through a Poll answered by a Final.
        Assert.Contains(link.Sent, s => s.Who == "a" && s.Packet.Poll && s.Packet.DesiredMinTxUs == 50_000);
        Assert.Contains(link.Sent, s => s.Who == "b" && s.Packet.Final);
    }

    [Fact]
    public void PeerFallsSilent_GoesDownWithinTheDetectionTime()
    {
        var (a, b, link) = Pair();
        link.RunUntil(TimeSpan.FromSeconds(5));
        var cut = link.Now;
        link.CutBToA = true;
        link.RunUntil(cut + TimeSpan.FromSeconds(1));
        var down = Assert.Single(link.Changes, c => c.Who == "a" && c.At > cut);
        Assert.Equal(new BfdTransition(BfdState.Up, BfdState.Down, BfdDiag.DetectionTimeExpired), down.Change);
        var after = down.At - cut;
        Assert.True(after <= TimeSpan.FromMilliseconds(150) && after >= TimeSpan.FromMilliseconds(150 - 50), $"down {after.TotalMilliseconds} ms after the cut");

        // b hears a say Down and follows (neighbor signaled session down).
        Assert.Contains(link.Changes, c => c.Who == "b" && c.At > cut && c.Change is { To: BfdState.Down, Diag: BfdDiag.NeighborSignaledDown });

        // Not Up any more, a is back to one packet a second.
        Assert.Equal(TimeSpan.FromSeconds(1), a.TransmitInterval);
    }

    [Fact]
    public void LinkHeals_SessionComesBack()
    {
        var (a, b, link) = Pair();
        link.RunUntil(TimeSpan.FromSeconds(5));
        link.CutBToA = link.CutAToB = true;
        link.RunUntil(TimeSpan.FromSeconds(10));
        Assert.Equal((BfdState.Down, BfdState.Down), (a.State, b.State));
        link.CutBToA = link.CutAToB = false;
        link.RunUntil(TimeSpan.FromSeconds(15));
        Assert.Equal((BfdState.Up, BfdState.Up), (a.State, b.State));
    }

    [Fact]
    public void AdminDown_PeerGoesDownSaying_NeighborSignaled_NotDetectionExpired()
    {
        var (a, b, link) = Pair();
        link.RunUntil(TimeSpan.FromSeconds(5));
        var at = link.Now;
        Assert.Equal(new BfdTransition(BfdState.Up, BfdState.AdminDown, BfdDiag.AdministrativelyDown), b.SetAdminDown(true, at));
        link.RunUntil(at + TimeSpan.FromSeconds(1));
        var down = Assert.Single(link.Changes, c => c.Who == "a" && c.At > at);
        Assert.Equal(BfdDiag.NeighborSignaledDown, down.Change.Diag);
        Assert.True(down.At - at <= TimeSpan.FromMilliseconds(51), $"{(down.At - at).TotalMilliseconds} ms");
        Assert.Equal(BfdState.AdminDown, b.State);
    }

    [Fact]
    public void Passive_SendsNothingUntilThePeerSpeaks()
    {
        var passive = Fast with { Passive = true };
        var (a, b, link) = Pair(passive, passive);
        link.RunUntil(TimeSpan.FromSeconds(5));
        Assert.Empty(link.Sent);
        Assert.Equal((BfdState.Down, BfdState.Down), (a.State, b.State));

        var (c, d, link2) = Pair(passive, Fast);
        link2.RunUntil(TimeSpan.FromSeconds(5));
        Assert.Equal((BfdState.Up, BfdState.Up), (c.State, d.State));
        Assert.Equal("b", link2.Sent[0].Who);
    }

    [Theory]
    [InlineData(3, 0.75, 1.0)]
    [InlineData(1, 0.75, 0.90)]
    public void Transmissions_AreJittered_AsSection687Says(byte multiplier, double low, double high)
    {
        var options = Fast with { Multiplier = multiplier };
        var (_, _, link) = Pair(options, options, seed: 7);
        link.RunUntil(TimeSpan.FromSeconds(30));
        var periodic = link.Sent.Where(s => s.Who == "a" && !s.Packet.Final && s.Packet.State == BfdState.Up && !s.Packet.Poll).Select(s => s.At).ToList();
        Assert.True(periodic.Count > 300, $"{periodic.Count} packets");
        var gaps = periodic.Zip(periodic.Skip(1), (x, y) => (y - x).TotalMilliseconds / 50).ToList();
        Assert.All(gaps, g => Assert.InRange(g, low - 1e-9, high + 1e-9));
        Assert.True(gaps.Max() - gaps.Min() > (high - low) / 2, "the gaps vary");
    }

    [Fact]
    public void SlowPeer_TheSlowerSideSetsTheRate()
    {
        var slow = new BfdOptions { MinTx = TimeSpan.FromMilliseconds(200), MinRx = TimeSpan.FromMilliseconds(300), Multiplier = 5 };
        var (a, b, link) = Pair(Fast, slow);
        link.RunUntil(TimeSpan.FromSeconds(6));
        Assert.Equal((BfdState.Up, BfdState.Up), (a.State, b.State));

        // a may send no faster than b can take (300 ms); b sends every 200 ms, a needs 50 ms: 200.
        Assert.Equal(TimeSpan.FromMilliseconds(300), a.TransmitInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(200), b.TransmitInterval);

        // a judges b by b's multiplier and b's rate: 5 x max(50, 200); b judges a by 3 x max(300, 50).
        Assert.Equal(TimeSpan.FromMilliseconds(1000), a.DetectionTime);
        Assert.Equal(TimeSpan.FromMilliseconds(900), b.DetectionTime);
    }

    [Fact]
    public void Receive_DiscardsWhatSection686Discards()
    {
        var m = new BfdMachine(Fast, 0x0a, TimeSpan.Zero);
        var ok = new BfdPacket(BfdDiag.None, BfdState.Down, BfdFlags.None, 3, 0x0b, 0, 1_000_000, 50_000, 0);
        Assert.Null(m.Receive(ok with { Flags = BfdFlags.Authentication }, TimeSpan.Zero, out _));
        Assert.Contains("authentication", m.LastDiscard, StringComparison.Ordinal);
        Assert.Null(m.Receive(ok with { YourDiscriminator = 0x99 }, TimeSpan.Zero, out _));
        Assert.Contains("not ours", m.LastDiscard, StringComparison.Ordinal);
        Assert.Null(m.Receive(ok with { State = BfdState.Up }, TimeSpan.Zero, out _));
        Assert.Contains("your discriminator 0 in state Up", m.LastDiscard, StringComparison.Ordinal);
        Assert.Equal(3, m.PacketsDiscarded);
        Assert.Equal(0u, m.RemoteDiscriminator);

        // The good one moves Down -> Init, and a Poll is answered with a Final.
        Assert.Equal(new BfdTransition(BfdState.Down, BfdState.Init, BfdDiag.None), m.Receive(ok with { Flags = BfdFlags.Poll }, TimeSpan.Zero, out var final));
        Assert.True(final);
        var f = m.FinalPacket();
        Assert.True(f.Final);
        Assert.False(f.Poll);
        Assert.Equal((0x0au, 0x0bu, BfdState.Init), (f.MyDiscriminator, f.YourDiscriminator, f.State));
    }

    [Fact]
    public void PeerAsksForNoPackets_NoneAreSent()
    {
        var m = new BfdMachine(Fast, 0x0a, TimeSpan.Zero);
        Assert.NotNull(m.Transmit(TimeSpan.Zero));
        m.Receive(new BfdPacket(BfdDiag.None, BfdState.Down, BfdFlags.None, 3, 0x0b, 0, 1_000_000, 0, 0), TimeSpan.FromMilliseconds(1), out _);
        Assert.Null(m.Transmit(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.MaxValue, m.NextTransmit);
    }
}
