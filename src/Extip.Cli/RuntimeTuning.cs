namespace Extip.Cli;

/// <summary>
/// Runtime settings per role, given to a process through its environment (the only way: one
/// binary, one runtimeconfig). The runtimeconfig turns tiered compilation off for the agent's
/// sake (its BFD threads must never stop behind a tier-up; see Extip.Cli.csproj). The controller
/// and the API server have no such threads and do a burst of work at start that tier-0 code gets
/// through sooner: bench controller --services 10000, run in pairs in one session with both off
/// (DOTNET_TieredCompilation=0) and then with these settings, took 29.5 and 31.2 s to all
/// assigned off against 24.7 and 19.4 s on (controller CPU 26.9/26.7 s against 23.6/18.4 s, API
/// server CPU 30.5/31.1 s against 24.1/19.4 s). The
/// controller's Deployment sets the same variable (deploy/base/controller.yaml).
/// The agent's GC allocates a new youngest generation after every 1 MB rather than the binary's
/// 3 MB (the controller's, compiled into the image's binary): the agent allocates little and keeps
/// less memory for it; its DaemonSet sets the same variable (deploy/base/agent.yaml).
/// </summary>
internal static class RuntimeTuning
{
    public const string TieredCompilation = "DOTNET_TieredCompilation";

    /// <summary>The GC's cap on the youngest generation's budget, in hex bytes, under the GC's own spelling.</summary>
    public const string Gen0MaxBudget = "DOTNET_GCGen0MaxBudget";

    /// <summary>The environment a process running <paramref name="role"/> (the CLI's first argument) gets.</summary>
    public static Dictionary<string, string> For(string? role) => role switch
    {
        "controller" or "apiserver" => new Dictionary<string, string>(StringComparer.Ordinal) { [TieredCompilation] = "1" },
        "agent" => new Dictionary<string, string>(StringComparer.Ordinal) { [Gen0MaxBudget] = "100000" },
        _ => new Dictionary<string, string>(StringComparer.Ordinal),
    };

    /// <summary>Adds <see cref="For"/>'s variables to <paramref name="env"/> (what is already there wins).</summary>
    public static void Apply(string? role, IDictionary<string, string?> env)
    {
        foreach (var (k, v) in For(role))
        {
            env.TryAdd(k, v);
        }
    }
}
