using Extip.Lab.Load;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Extip.Bgp.Tests.Bfd;

/// <summary>
/// BFD's threads (receive, timers) run in the real-time class and must not make the garbage
/// collector stop the process: each collection stops every thread, theirs too. Their loops
/// allocated about 50 KB a packet (a timer wait under a millisecond rounded down to none spun
/// until the packet was due, copying the session list each turn), four to six collections a
/// second at 50 ms x 3.
/// </summary>
public sealed class BfdThreadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AtFiftyMilliseconds_TheBfdThreadsAllocateAlmostNothing_AndTheTimersSleepBetweenPackets()
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test needs root (network namespaces); run the tests as root, as CI does");
        }

        await using var rig = await BfdRig.StartAsync(2, TimeSpan.FromMilliseconds(50), 3, NullLoggerFactory.Instance);
        await rig.WaitAllUpAsync(TimeSpan.FromSeconds(60));

        var allocatedBefore = rig.AllocatedBytes;
        var packetsBefore = Packets(rig);
        var sentBefore = rig.Sessions.Sum(s => s.PacketsSent);
        var cpuBefore = rig.TimerThreadsCpu;
        var turnsBefore = rig.TimerTurns;
        var collectionsBefore = GC.CollectionCount(0);
        while (Packets(rig) - packetsBefore < 400)
        {
            await Task.Delay(100);
        }

        var packets = Packets(rig) - packetsBefore;
        var allocated = rig.AllocatedBytes - allocatedBefore;
        var perPacket = allocated / (double)packets;
        var sent = rig.Sessions.Sum(s => s.PacketsSent) - sentBefore;
        var cpuPerSent = (rig.TimerThreadsCpu - cpuBefore).TotalMicroseconds / sent;
        var turnsPerSent = (rig.TimerTurns - turnsBefore) / (double)sent;
        output.WriteLine($"{packets} packets sent and received, {allocated} bytes allocated by the BFD threads ({perPacket:F1} a packet), {GC.CollectionCount(0) - collectionsBefore} collections in this process meanwhile; the timer threads turned {turnsPerSent:F1} times and ran {cpuPerSent:F0} µs a packet they sent");

        // A timer thread wakes when a packet is due (or a received packet moves a detection time
        // sooner), sends it and sleeps again: one to three turns a packet. The spin (a wait under a
        // millisecond taken as none) turned hundreds of times a packet. Counted in turns, not in
        // CPU time, which a busy machine stretches (the CPU time is printed above for a reader).
        Assert.True(turnsPerSent < 10, $"the timer threads turned {turnsPerSent:F1} times for each packet they sent ({sent}): they do not sleep between packets");

        // What is left: the source address of a received packet (an IPAddress, about 40 bytes).
        Assert.True(perPacket < 100, $"the BFD threads allocated {perPacket:F1} bytes a packet ({allocated} bytes for {packets} packets)");
    }

    private static long Packets(BfdRig rig) => rig.Sessions.Sum(s => s.PacketsSent + s.PacketsReceived);
}
