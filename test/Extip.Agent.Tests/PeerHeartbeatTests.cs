using Extip.Agent.Peers;
using Microsoft.Extensions.Time.Testing;

namespace Extip.Agent.Tests;

/// <summary>The heartbeat's wire format and the fencing question it answers, in virtual time.</summary>
public sealed class PeerHeartbeatTests
{
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    [Fact]
    public void Heartbeat_RoundTrips_AndRefusesAnyChangedByte()
    {
        var beat = new Heartbeat("k8s2", 42, 7, TimeSpan.FromMilliseconds(380), TimeSpan.FromSeconds(3600));
        var wire = beat.Encode(Key);
        Assert.Equal(beat, Heartbeat.Decode(wire, Key));
        Assert.Equal(beat with { ApiAge = null, StreakAge = null }, Heartbeat.Decode((beat with { ApiAge = null, StreakAge = null }).Encode(Key), Key));
        for (var i = 0; i < wire.Length; i++)
        {
            var bad = (byte[])wire.Clone();
            bad[i] ^= 0x01;
            Assert.Null(Heartbeat.Decode(bad, Key));
        }

        var other = (byte[])Key.Clone();
        other[0] ^= 0xFF;
        Assert.Null(Heartbeat.Decode(wire, other));
        Assert.Null(Heartbeat.Decode(wire.AsSpan(0, wire.Length - 1), Key));
        Assert.Null(Heartbeat.Decode([.. wire, 0], Key));
        Assert.Null(Heartbeat.Decode([], Key));
    }

    [Fact]
    public void Witness_PlacesThePeersContactOnItsOwnClock_NeverTheirs()
    {
        var time = new FakeTimeProvider();
        var w = new PeerWitness(time, "k8s1");
        var half = TimeSpan.FromSeconds(1);
        time.Advance(TimeSpan.FromSeconds(10));
        var last = time.GetTimestamp(); // this node's last renewal; then it loses the API server

        // k8s2 (renewing without a break for a minute) last reached the API 1 s before it sent
        // this, i.e. before this node's last renewal: an outage for everyone, as far as this node can tell.
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 1, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)), "eth0"));
        Assert.Null(w.ConfirmsLoss(last, half, _ => true));

        // Never reached at all: nothing.
        Assert.True(w.Accept(new Heartbeat("k8s3", 9, 1, null, null), "eth0"));
        Assert.Null(w.ConfirmsLoss(last, half, _ => true));

        // k8s2 reached it 800 ms after this node's last renewal: not yet half a Lease.
        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 2, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1)), "eth0"));
        Assert.Null(w.ConfirmsLoss(last, half, _ => true));

        // 1.1 s after, less the transit allowance (50 ms), is more than half a Lease: this node
        // is the one cut off, and the controller may count it dead.
        time.Advance(TimeSpan.FromMilliseconds(300));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 3, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1)), "eth0"));
        Assert.Equal("k8s2", w.ConfirmsLoss(last, half, _ => true));

        // Only over the network the claim serves.
        Assert.Null(w.ConfirmsLoss(last, half, i => i == "eth1"));
        Assert.Equal("k8s2", w.ConfirmsLoss(last, half, i => i == "eth0"));

        // A later renewal is not answered by that older contact.
        Assert.Null(w.ConfirmsLoss(time.GetTimestamp(), TimeSpan.Zero, _ => true));
        Assert.Equal(2, w.PeersHeard(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Witness_APeerBackFirstFromTheSameOutage_ConfirmsNothingUntilItsStreakHasLasted()
    {
        var time = new FakeTimeProvider();
        var w = new PeerWitness(time, "k8s1");
        var half = TimeSpan.FromSeconds(1);
        time.Advance(TimeSpan.FromSeconds(10));
        var last = time.GetTimestamp();

        // The API server is away for a minute, for both. k8s2 gets through first: it reached the
        // API just now, but its streak started just now too.
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 1, TimeSpan.Zero, TimeSpan.Zero), "eth0"));
        Assert.Null(w.ConfirmsLoss(last, half, _ => true));
        time.Advance(TimeSpan.FromMilliseconds(800));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 2, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(800)), "eth0"));
        Assert.Null(w.ConfirmsLoss(last, half, _ => true));

        // This node stays out while k8s2's streak lasts half a Lease: now it is the one cut off.
        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 3, TimeSpan.Zero, TimeSpan.FromMilliseconds(1200)), "eth0"));
        Assert.Equal("k8s2", w.ConfirmsLoss(last, half, _ => true));
    }

    [Fact]
    public void Witness_RefusesReplaysAndItsOwnHeartbeats()
    {
        var time = new FakeTimeProvider();
        var w = new PeerWitness(time, "k8s1");
        var lost = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 5, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1)), "eth0"));

        // A replay (same life, same or older sequence) cannot freshen the contact.
        Assert.False(w.Accept(new Heartbeat("k8s2", 1, 5, TimeSpan.Zero, TimeSpan.FromMinutes(1)), "eth0"));
        Assert.False(w.Accept(new Heartbeat("k8s2", 1, 4, TimeSpan.Zero, TimeSpan.FromMinutes(1)), "eth0"));
        Assert.Null(w.ConfirmsLoss(lost, TimeSpan.FromSeconds(1), _ => true));
        Assert.False(w.Accept(new Heartbeat("k8s1", 1, 99, TimeSpan.Zero, TimeSpan.FromMinutes(1)), "eth0"));
        Assert.Null(w.ConfirmsLoss(lost, TimeSpan.FromSeconds(1), _ => true));

        // A new life of the peer starts its own sequence.
        Assert.True(w.Accept(new Heartbeat("k8s2", 2, 1, TimeSpan.Zero, TimeSpan.FromMinutes(1)), "eth0"));
        Assert.Equal("k8s2", w.ConfirmsLoss(lost, TimeSpan.FromSeconds(1), _ => true));
    }
}
