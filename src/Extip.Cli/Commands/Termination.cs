using System.Runtime.InteropServices;

namespace Extip.Cli.Commands;

/// <summary>SIGTERM and SIGINT ask a long-running command to stop cleanly (instead of ending the process at once).</summary>
internal static class Termination
{
    /// <summary>Calls <paramref name="stop"/> on SIGTERM or SIGINT until disposed.</summary>
    public static IDisposable OnSignal(Action stop) => new Registrations(
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop();
        }),
        PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
        {
            c.Cancel = true;
            stop();
        }));

    /// <summary>Waits until SIGTERM, SIGINT or <paramref name="ct"/>.</summary>
    public static async Task WaitAsync(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var signals = OnSignal(stop.Cancel);
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class Registrations(params PosixSignalRegistration[] all) : IDisposable
    {
        public void Dispose()
        {
            foreach (var r in all)
            {
                r.Dispose();
            }
        }
    }
}
