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
        var beat = new Heartbeat("k8s2", 42, 7, TimeSpan.FromMilliseconds(380));
        var wire = beat.Encode(Key);
        Assert.Equal(beat, Heartbeat.Decode(wire, Key));
        Assert.Equal(beat with { ApiAge = null }, Heartbeat.Decode((beat with { ApiAge = null }).Encode(Key), Key));
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
        time.Advance(TimeSpan.FromSeconds(10));
        var lost = time.GetTimestamp();

        // k8s2 last reached the API 1 s before it sent this, i.e. before this node lost it: an
        // outage for everyone, as far as this node can tell.
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 1, TimeSpan.FromSeconds(1)), "eth0"));
        Assert.Null(w.ReachedSince(lost, _ => true));

        // A contact within the transit allowance of the loss is not evidence either.
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 2, TimeSpan.FromMilliseconds(990)), "eth0"));
        Assert.Null(w.ReachedSince(lost, _ => true));

        // Never reached at all: nothing.
        Assert.True(w.Accept(new Heartbeat("k8s3", 9, 1, null), "eth0"));
        Assert.Null(w.ReachedSince(lost, _ => true));

        // k8s2 reached it 200 ms after this node lost it: this node is the one cut off.
        time.Advance(TimeSpan.FromMilliseconds(300));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 3, TimeSpan.FromMilliseconds(100)), "eth0"));
        Assert.Equal("k8s2", w.ReachedSince(lost, _ => true));

        // Only over the network the claim serves.
        Assert.Null(w.ReachedSince(lost, i => i == "eth1"));
        Assert.Equal("k8s2", w.ReachedSince(lost, i => i == "eth0"));

        // A later loss is not answered by that older contact.
        Assert.Null(w.ReachedSince(time.GetTimestamp(), _ => true));
        Assert.Equal(2, w.PeersHeard(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Witness_RefusesReplaysAndItsOwnHeartbeats()
    {
        var time = new FakeTimeProvider();
        var w = new PeerWitness(time, "k8s1");
        var lost = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(w.Accept(new Heartbeat("k8s2", 1, 5, TimeSpan.FromSeconds(10)), "eth0"));

        // A replay (same life, same or older sequence) cannot freshen the contact.
        Assert.False(w.Accept(new Heartbeat("k8s2", 1, 5, TimeSpan.Zero), "eth0"));
        Assert.False(w.Accept(new Heartbeat("k8s2", 1, 4, TimeSpan.Zero), "eth0"));
        Assert.Null(w.ReachedSince(lost, _ => true));
        Assert.False(w.Accept(new Heartbeat("k8s1", 1, 99, TimeSpan.Zero), "eth0"));
        Assert.Null(w.ReachedSince(lost, _ => true));

        // A new life of the peer starts its own sequence.
        Assert.True(w.Accept(new Heartbeat("k8s2", 2, 1, TimeSpan.Zero), "eth0"));
        Assert.Equal("k8s2", w.ReachedSince(lost, _ => true));
    }
}
