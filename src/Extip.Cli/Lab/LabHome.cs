using System.Text.Json;
using Extip.Lab;

namespace Extip.Cli.Lab;

/// <summary>
/// Where the running lab keeps what other commands need: its state, kubeconfig, control socket
/// and logs (<c>$EXTIP_LAB_HOME</c>, default <c>/tmp/extip-lab/current</c>). One lab at a time.
/// </summary>
internal sealed class LabHome
{
    public LabHome(string? dir = null) =>
        Dir = dir ?? Environment.GetEnvironmentVariable("EXTIP_LAB_HOME") ?? Path.Combine(Site.WorkRoot, "current");

    /// <summary>The default home, where <c>extip status</c> looks for a lab's kubeconfig.</summary>
    public static LabHome Default => new();

    public string Dir { get; }

    public string StateFile => Path.Combine(Dir, "lab.json");

    public string Kubeconfig => Path.Combine(Dir, "kubeconfig");

    public string Socket => Path.Combine(Dir, "control.sock");

    /// <summary>The supervisor's own output: progress while it starts, then what it does.</summary>
    public string Log => Path.Combine(Dir, "lab.log");

    public string LogDir => Path.Combine(Dir, "logs");

    /// <summary>The running lab's state, or null when none is up (no state, or its supervisor is gone).</summary>
    public LabState? Running()
    {
        var state = Read();
        return state is not null && Directory.Exists($"/proc/{state.Pid}") ? state : null;
    }

    public LabState? Read()
    {
        try
        {
            return JsonSerializer.Deserialize<LabState>(File.ReadAllText(StateFile), LabState.Json);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Write(LabState state)
    {
        Directory.CreateDirectory(Dir);
        var tmp = StateFile + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(state, LabState.Json));
        File.Move(tmp, StateFile, overwrite: true);
    }

    /// <summary>Removes the home's files (state, kubeconfig, socket, logs).</summary>
    public void Clear()
    {
        if (Directory.Exists(Dir))
        {
            Directory.Delete(Dir, recursive: true);
        }
    }
}
