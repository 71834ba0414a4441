using System.Diagnostics;
using System.Globalization;
using Extip.Bgp.Bfd;
using Extip.Lab.Load;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Extip.Bgp.Tests.Bfd;

/// <summary>
/// The periodic packets leave from <c>extip bfd-transmit</c>, a process of its own, so that
/// nothing that stops the agent's process (a garbage collection waiting for the CPU, here a
/// SIGSTOP of this very process) makes the router declare a live node down; and they stop a
/// lease after the agent last spoke, so that a hung agent does not look alive.
/// </summary>
[Collection(nameof(BusyMachine))]
public sealed class BfdTransmitWorkerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(1);

    public static BfdTransmitCommand Worker => BfdTransmitCommand.UnderDotnet(Path.Combine(AppContext.BaseDirectory, "extip.dll"));

    [Fact]
    public async Task ThisProcessStoppedHalfASecond_FrrSeesNoDown_StoppedPastTheLease_FrrDeclaresItDown()
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test needs root (network namespaces); run the tests as root, as CI does");
        }

        await using var rig = await BfdRig.StartAsync(2, TimeSpan.FromMilliseconds(50), 3, NullLoggerFactory.Instance, transmit: Worker, transmitLease: Lease);
        await rig.WaitAllUpAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, rig.TransmitWorkerPids.Count);
        Assert.Equal("SCHED_FIFO 10", rig.TransmitScheduling);

        // Half a second, more than three times the detection time (150 ms): the workers go on.
        var peerBefore = await rig.PeerDownsAsync();
        var ourBefore = rig.OurDowns;
        var stopped = await StopThisProcessAsync(TimeSpan.FromMilliseconds(500));
        output.WriteLine($"this process stopped {stopped.TotalMilliseconds:F0} ms");
        Assert.True(stopped >= TimeSpan.FromMilliseconds(400), $"stopped only {stopped.TotalMilliseconds:F0} ms");
        await rig.WaitAllUpAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, await rig.PeerDownsAsync() - peerBefore);
        Assert.Equal(0, rig.OurDowns - ourBefore);

        Assert.Equal(0, rig.TransmitLapses);

        // Past the lease (1 s here, 3 s in the agent): the workers stop too, and FRR declares
        // every session down.
        stopped = await StopThisProcessAsync(Lease * 2.5);
        output.WriteLine($"this process stopped {stopped.TotalMilliseconds:F0} ms");
        var watch = Stopwatch.StartNew();
        while (await rig.PeerDownsAsync() - peerBefore < 2)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"FRR declared {await rig.PeerDownsAsync() - peerBefore} of 2 sessions down after a stop of {stopped.TotalSeconds:F1} s\n{rig.Frr.Log}");
            await Task.Delay(50);
        }

        // And all comes back without help; each worker said it stopped.
        await rig.WaitAllUpAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, rig.TransmitLapses);
    }

    [Fact]
    public async Task AWorkerThatDies_IsStartedAgain_AndTheSessionsComeBack()
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test needs root (network namespaces); run the tests as root, as CI does");
        }

        await using var rig = await BfdRig.StartAsync(1, TimeSpan.FromMilliseconds(50), 3, NullLoggerFactory.Instance, transmit: Worker);
        await rig.WaitAllUpAsync(TimeSpan.FromSeconds(60));
        var pid = rig.TransmitWorkerPids.Single();
        Process.GetProcessById(pid).Kill();

        var watch = Stopwatch.StartNew();
        while (rig.TransmitWorkerPids.SingleOrDefault() == pid)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"worker {pid} killed and not started again");
            await Task.Delay(50);
        }

        // The new worker sends (it reports once a second) and the session is Up on both sides.
        var sent = rig.Sessions.Single().PacketsSent;
        while (rig.Sessions.Single().PacketsSent <= sent)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"the new worker {rig.TransmitWorkerPids.Single()} reports no packet sent");
            await Task.Delay(50);
        }

        await rig.WaitAllUpAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// SIGSTOP to this process, SIGCONT <paramref name="duration"/> later, from a shell of its own:
    /// every thread here stops, the real-time ones too, as in the worst garbage collection.
    /// </summary>
    private static async Task<TimeSpan> StopThisProcessAsync(TimeSpan duration)
    {
        var pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var seconds = duration.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture);
        var psi = new ProcessStartInfo("sh", ["-c", $"kill -STOP {pid}; sleep {seconds}; kill -CONT {pid}"]) { UseShellExecute = false };
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        await p.WaitForExitAsync();
        return watch.Elapsed;
    }
}
