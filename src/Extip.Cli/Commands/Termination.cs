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
    /// <remarks>
    /// A signal's handler may still run after its registration is disposed (a second SIGTERM
    /// arriving as the first one is being handled): it completes a task, which never throws,
    /// where cancelling a disposed token source crashed the process mid-stop (exit 134).
    /// </remarks>
    public static async Task WaitAsync(CancellationToken ct)
    {
        var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var signals = OnSignal(() => signalled.TrySetResult());
        using var cancelled = ct.Register(() => signalled.TrySetResult());
        await signalled.Task.ConfigureAwait(false);
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
