using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Extip.Lab;
using Extip.Netlink;

namespace Extip.Cli.Lab;

/// <summary>
/// Brings a lab up (a detached <c>extip lab serve</c>, whose progress it shows) and down, and
/// talks to the running one over its control socket.
/// </summary>
internal static class LabLauncher
{
    /// <summary>The line the supervisor prints once the lab is up; one starting with <see cref="Failed"/> when it could not come up.</summary>
    public const string Ready = "ready";

    public const string Failed = "failed: ";

    public static async Task<LabState> UpAsync(LabSpec spec, LabHome home, TextWriter say, CancellationToken ct)
    {
        if (home.Running() is { } running)
        {
            say.WriteLine($"a lab is up (supervisor pid {running.Pid}): taking it down first");
            await DownAsync(home, TextWriter.Null, ct).ConfigureAwait(false);
        }

        Sweep(home);
        Directory.CreateDirectory(home.Dir);
        var (file, prefix) = LabSupervisor.SelfCommand();

        // A session of its own (setsid), so that the lab outlives this command and its terminal.
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var a in new[] { "-c", "exec setsid \"$0\" \"$@\" >>\"$EXTIP_LAB_LOG\" 2>&1 </dev/null", file })
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var a in prefix.Concat(["lab", "serve", "--spec", JsonSerializer.Serialize(spec, LabState.Json)]))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["EXTIP_LAB_HOME"] = home.Dir;
        psi.Environment["EXTIP_LAB_LOG"] = home.Log;
        using var supervisor = Process.Start(psi) ?? throw new LabException("could not start the lab's supervisor");
        await using var log = new FileStream(home.Log, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(log, Encoding.UTF8);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var line = await reader.ReadLineAsync(ct).ConfigureAwait(false);
            if (line is null)
            {
                if (supervisor.HasExited)
                {
                    throw new LabException($"the lab's supervisor exited (code {supervisor.ExitCode}) before the lab was up; its log: {home.Log}");
                }

                if (sw.Elapsed > TimeSpan.FromMinutes(10))
                {
                    throw new LabException($"the lab did not come up within 10 minutes; its log: {home.Log}");
                }

                await Task.Delay(20, ct).ConfigureAwait(false);
                continue;
            }

            if (line == Ready)
            {
                return home.Read() ?? throw new LabException($"the lab is up but wrote no state to {home.StateFile}");
            }

            if (line.StartsWith(Failed, StringComparison.Ordinal))
            {
                throw new LabException(line[Failed.Length..] + $" (log: {home.Log}, component logs in {home.LogDir})");
            }

            say.WriteLine(line);
        }
    }

    /// <summary>Takes the running lab down (its supervisor undoes what it made), then sweeps whatever a crashed lab left.</summary>
    public static async Task DownAsync(LabHome home, TextWriter say, CancellationToken ct)
    {
        var state = home.Read();
        if (state is not null && Directory.Exists($"/proc/{state.Pid}"))
        {
            try
            {
                await SendAsync(home, "down", ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException or LabException)
            {
                Signals.Send(state.Pid, Signals.Term);
            }

            var sw = Stopwatch.StartNew();
            while (Directory.Exists($"/proc/{state.Pid}") && sw.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(50, ct).ConfigureAwait(false);
            }

            if (Directory.Exists($"/proc/{state.Pid}"))
            {
                say.WriteLine($"the supervisor (pid {state.Pid}) did not stop within 30 s: killed");
                Signals.Send(state.Pid, Signals.Kill);
                while (Directory.Exists($"/proc/{state.Pid}") && File.Exists($"/proc/{state.Pid}/environ"))
                {
                    await Task.Delay(20, ct).ConfigureAwait(false);
                }
            }
        }

        var swept = Sweep(home);
        say.WriteLine(state is null && swept == 0
            ? "no lab was up; nothing left behind"
            : $"lab down: namespaces, processes and files removed{(swept > 0 ? $" ({swept} left by a crashed lab swept)" : string.Empty)}");
    }

    /// <summary>One command to the running lab; its answer, or a <see cref="LabException"/> with the lab's error.</summary>
    public static async Task<string> SendAsync(LabHome home, string command, CancellationToken ct)
    {
        if (home.Running() is null)
        {
            throw new LabException("no lab is up: sudo ./extip lab up");
        }

        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await s.ConnectAsync(new UnixDomainSocketEndPoint(home.Socket), ct).ConfigureAwait(false);
        await using var stream = new NetworkStream(s, ownsSocket: false);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(command + "\n"), ct).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var answer = (await reader.ReadToEndAsync(ct).ConfigureAwait(false)).TrimEnd('\n');
        if (answer.StartsWith("error: ", StringComparison.Ordinal))
        {
            throw new LabException(answer["error: ".Length..]);
        }

        return answer.EndsWith("\nok", StringComparison.Ordinal) ? answer[..^3] : answer;
    }

    /// <summary>Removes what dead labs left (namespaces, processes, files); the number of namespaces removed.</summary>
    private static int Sweep(LabHome home)
    {
        var removed = Site.Sweep().Count;
        LabContainers.Sweep();
        if (home.Running() is null)
        {
            home.Clear();
        }

        return removed;
    }
}
