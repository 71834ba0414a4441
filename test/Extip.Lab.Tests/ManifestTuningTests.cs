using Extip.Cli;
using Extip.Core.Yaml;

namespace Extip.Lab.Tests;

/// <summary>
/// The runtime settings the lab and the benches give each role (<see cref="RuntimeTuning"/>) are
/// those of the manifests, so that what is measured here is what a cluster runs.
/// </summary>
public sealed class ManifestTuningTests
{
    [Fact]
    public void TheAgentsDaemonSet_SetsTheAgentsRuntimeSettings()
    {
        var root = Checkout.Root() ?? throw new InvalidOperationException("no checkout above " + AppContext.BaseDirectory);
        var daemonSet = YamlJson.Documents(File.ReadAllText(Path.Combine(root, "deploy", "base", "agent.yaml")))
            .Single(d => (string?)d["kind"] == "DaemonSet");
        var container = daemonSet["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Single(c => (string?)c!["name"] == "agent")!;
        var env = container["env"]!.AsArray()
            .Where(e => e!["value"] is not null)
            .ToDictionary(e => (string)e!["name"]!, e => (string)e!["value"]!, StringComparer.Ordinal);

        var wanted = RuntimeTuning.For("agent");
        Assert.NotEmpty(wanted);
        Assert.All(wanted, kv => Assert.Equal(kv.Value, env.GetValueOrDefault(kv.Key)));
    }
}
