using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Extip.Cli;
using Extip.Cli.Lab;
using Extip.Lab;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>
/// extip's OCI image, built by scripts/build-image.sh from this checkout and run by podman with
/// the manifests' users and capabilities: the seed's scenario passes with the controller and the
/// agents in containers, and a killed agent's container hands over as a killed process does.
/// </summary>
public sealed class ImageScenarios(ITestOutputHelper output)
{
    [Fact]
    public async Task Seed_FromTheImage_ControllerAsNonRootWithoutCapabilities_AgentsWithNetAdminAndNetRawOnly()
    {
        var image = await BuildImageAsync();
        await using var lab = new LabDriver(output);
        var text = await lab.MustAsync("lab", "demo", "--nodes", "3", "--image", image);
        Assert.Contains("from the command to the 20 answers", text, StringComparison.Ordinal);
        Assert.Contains("run in containers (podman", text, StringComparison.Ordinal);
        var seed = LabObjects.SeedV4;
        Assert.Equal(["k8s1", "k8s2"], lab.Holders(seed, "lo"));
        Assert.Equal(["k8s1", "k8s2"], lab.RoutedTo(seed));
        Assert.All(await lab.AskAsync(seed, 20), a => Assert.NotNull(a));

        // What runs is the image's binary, as the manifests say: the controller as 65532 with no
        // capability at all, each agent as uid 0 with NET_ADMIN and NET_RAW and nothing else;
        // neither can gain privileges.
        var controller = Status(lab.State.ControllerPid ?? throw new InvalidOperationException("no controller pid"));
        Assert.Equal("/app/extip", controller.Command[0]);
        Assert.Equal("controller", controller.Command[1]);
        Assert.Equal("65532", controller.Uid);
        Assert.Equal(0UL, controller.CapEff);
        Assert.Equal(0UL, controller.CapBnd);
        Assert.Equal("1", controller.NoNewPrivs);
        const ulong netAdminNetRaw = (1UL << 12) | (1UL << 13);
        foreach (var node in lab.State.Nodes.Where(n => n.AgentPid is not null))
        {
            var agent = Status(node.AgentPid!.Value);
            Assert.Equal("/app/extip", agent.Command[0]);
            Assert.Equal("agent", agent.Command[1]);
            Assert.DoesNotContain("--netns", agent.Command);
            Assert.Equal("0", agent.Uid);
            Assert.Equal(netAdminNetRaw, agent.CapEff);
            Assert.Equal(netAdminNetRaw, agent.CapBnd);
            Assert.Equal("1", agent.NoNewPrivs);

            // It could still set what it needs of the kernel: promote_secondaries on the
            // interface it holds IPv4 addresses on (by rtnetlink; /proc/sys is read-only there).
            Assert.Equal("1", Site.Exec(node.Netns, "cat", "/proc/sys/net/ipv4/conf/lo/promote_secondaries").Trim());
        }

        // An agent's container killed: the other node carries the address alone; healed: both again.
        await lab.MustAsync("lab", "fail", "k8s1", "--how", "kill");
        await lab.Until(() => lab.RoutedTo(seed), r => r.SequenceEqual(["k8s2"]), "the router routing the seed to k8s2 only after k8s1's agent was killed");
        await lab.UntilAsync(() => lab.AskAsync(seed, 5), a => a.All(n => n == "k8s2"), "only k8s2 answering");
        await lab.MustAsync("lab", "heal", "k8s1");
        await lab.Until(() => lab.RoutedTo(seed), r => r.SequenceEqual(["k8s1", "k8s2"]), "the router routing the seed to both nodes again");
    }

    private async Task<string> BuildImageAsync()
    {
        var root = Checkout.Root() ?? throw new InvalidOperationException("no checkout above " + AppContext.BaseDirectory);
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(root, "scripts", "build-image.sh"));
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        var lines = (await stdout).Trim().Split('\n');
        output.WriteLine($"scripts/build-image.sh -> {p.ExitCode}\n{await stderr}{string.Join('\n', lines)}");
        Assert.True(p.ExitCode == 0, "scripts/build-image.sh failed");
        using var result = JsonDocument.Parse(lines[^1]);
        return result.RootElement.GetProperty("image").GetString()!;
    }

    private static (string[] Command, string Uid, ulong CapEff, ulong CapBnd, string NoNewPrivs) Status(int pid)
    {
        var command = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        var fields = File.ReadAllLines($"/proc/{pid}/status")
            .Select(l => l.Split(':', 2))
            .Where(kv => kv.Length == 2)
            .ToDictionary(kv => kv[0], kv => kv[1].Trim(), StringComparer.Ordinal);
        return (command, fields["Uid"].Split('\t')[0], ulong.Parse(fields["CapEff"], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            ulong.Parse(fields["CapBnd"], NumberStyles.HexNumber, CultureInfo.InvariantCulture), fields["NoNewPrivs"]);
    }
}
