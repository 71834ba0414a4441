using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Extip.Testing.Fixtures;
using Xunit.Abstractions;

namespace Extip.Controller.Tests;

/// <summary>
/// deploy/ansible/roles/externalip, run with Debian's ansible against kube-apiserver v1.20 and
/// against the lab's embedded server, as an operator runs it: the first run installs, a second with the same variables changes nothing,
/// a changed extip_mask reaches the controller's --mask, a bad one is refused before anything
/// is applied (named, with its value), and extip_state=absent removes all but the CRDs.
/// </summary>
public abstract partial class AnsibleRoleTests<TFixture>(TFixture real, ITestOutputHelper output) : IClassFixture<TFixture>
    where TFixture : ClusterFixture
{
    private static readonly string Deploy = Path.Combine(ClusterFixture.RepoRoot(), "deploy");

    [Fact]
    public async Task Role_Installs_ThenChangesNothing_TakesANewMask_RefusesABadOne_AndRemoves()
    {
        var work = Directory.CreateTempSubdirectory("extip-ansible-");
        try
        {
            var vars = new Dictionary<string, object>
            {
                ["extip_hosts"] = "localhost",
                ["ansible_python_interpreter"] = "/usr/bin/python3",
                ["extip_kubeconfig"] = real.Kubeconfig,
                ["extip_work_dir"] = Path.Combine(work.FullName, "render"),
                ["extip_image_tag"] = "1.0",
                ["extip_agent_node_selector"] = new Dictionary<string, string> { ["extip.io/announce"] = "true" },
                ["extip_pools"] = new[] { new Dictionary<string, object> { ["name"] = "default", ["addresses"] = new[] { "203.0.113.0/24" } } },
                ["extip_bgp_peers"] = new[] { new Dictionary<string, object> { ["name"] = "tor", ["peerAddress"] = "192.0.2.1", ["peerASN"] = 64500, ["localASN"] = 64512 } },
            };

            var first = await PlaybookAsync(work, vars);
            Assert.True(first.Failed == 0 && first.Changed > 0, first.Output);
            Assert.Equal("2", await GetAsync("-n extip-system get deployment extip-controller -o jsonpath={.spec.replicas}"));
            Assert.Equal("extip:1.0", await GetAsync("-n extip-system get daemonset extip-agent -o jsonpath={.spec.template.spec.containers[0].image}"));
            Assert.Equal("{\"extip.io/announce\":\"true\"}", await GetAsync("-n extip-system get daemonset extip-agent -o jsonpath={.spec.template.spec.nodeSelector}"));
            Assert.Contains("\"--mask\",\"32\"", await GetAsync("-n extip-system get deployment extip-controller -o jsonpath={.spec.template.spec.containers[0].args}"), StringComparison.Ordinal);
            Assert.Equal("[\"203.0.113.0/24\"]", await GetAsync("get ippool default -o jsonpath={.spec.addresses}"));
            Assert.Equal("192.0.2.1", await GetAsync("get bgppeer tor -o jsonpath={.spec.peerAddress}"));
            // v1.20 serves PodDisruptionBudget as policy/v1beta1 only: the role saw it and used the
            // component; the embedded server serves policy/v1.
            var pdb = real.IsReal ? "poddisruptionbudgets.v1beta1.policy" : "poddisruptionbudgets.v1.policy";
            Assert.Equal("1", await GetAsync($"-n extip-system get {pdb} extip-controller -o jsonpath={{.spec.minAvailable}}"));

            var second = await PlaybookAsync(work, vars);
            Assert.True(second.Failed == 0 && second.Changed == 0, second.Output);

            vars["extip_mask"] = 24;
            var masked = await PlaybookAsync(work, vars);
            Assert.True(masked.Failed == 0 && masked.Changed > 0, masked.Output);
            Assert.Contains("\"--mask\",\"24\"", await GetAsync("-n extip-system get deployment extip-controller -o jsonpath={.spec.template.spec.containers[0].args}"), StringComparison.Ordinal);

            vars["extip_mask"] = 33;
            vars["extip_ctrl_replicas"] = 3;
            var bad = await PlaybookAsync(work, vars);
            Assert.True(bad.Failed == 1, bad.Output);
            Assert.Contains("extip_mask=33: expected a mask length from 1 to 32", bad.Output, StringComparison.Ordinal);
            Assert.Equal("2", await GetAsync("-n extip-system get deployment extip-controller -o jsonpath={.spec.replicas}"));

            vars["extip_mask"] = 24;
            vars.Remove("extip_ctrl_replicas");
            vars["extip_state"] = "absent";
            var removed = await PlaybookAsync(work, vars);
            Assert.True(removed.Failed == 0 && removed.Changed > 0, removed.Output);
            var ippool = await real.KubectlAsync("get ippool default");
            Assert.NotEqual(0, ippool.Exit);
            var ns = await real.KubectlAsync("get namespace extip-system -o jsonpath={.status.phase}");
            Assert.True(ns.Exit != 0 || ns.Out == "Terminating", $"namespace extip-system: {ns.Out}{ns.Err}");
            Assert.Equal("ippools.extip.io", await GetAsync("get crd ippools.extip.io -o jsonpath={.metadata.name}"));
            Assert.False(Directory.Exists(Path.Combine(work.FullName, "render")));

            // Removing again, from a host that no longer has the rendering, is no error.
            var again = await PlaybookAsync(work, vars);
            Assert.True(again.Failed == 0, again.Output);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private async Task<string> GetAsync(string args)
    {
        var (exit, stdout, stderr) = await real.KubectlAsync(args);
        Assert.True(exit == 0, $"kubectl {args}: {stdout}{stderr}");
        return stdout.Trim();
    }

    /// <summary>ansible-playbook with the role's example playbook on this host; the recap's changed and failed counts, and all it printed.</summary>
    private async Task<(int Changed, int Failed, string Output)> PlaybookAsync(DirectoryInfo work, Dictionary<string, object> vars)
    {
        var file = Path.Combine(work.FullName, "vars.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(vars));
        var psi = new ProcessStartInfo("ansible-playbook", ["-i", "localhost,", "-c", "local", Path.Combine(Deploy, "ansible", "externalip.yml"), "-e", "@" + file])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["ANSIBLE_NOCOLOR"] = "1";
        psi.Environment["ANSIBLE_LOCAL_TEMP"] = Path.Combine(work.FullName, "tmp");
        psi.Environment["ANSIBLE_REMOTE_TEMP"] = Path.Combine(work.FullName, "tmp");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        var text = await stdout + await stderr;
        output.WriteLine(text);
        var recap = Recap().Match(text);
        Assert.True(recap.Success, $"ansible-playbook printed no recap (exit {p.ExitCode}):\n{text}");
        return (int.Parse(recap.Groups["changed"].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(recap.Groups["failed"].Value, System.Globalization.CultureInfo.InvariantCulture), text);
    }

    [GeneratedRegex(@"localhost\s*:\s*ok=\d+\s+changed=(?<changed>\d+)\s+unreachable=\d+\s+failed=(?<failed>\d+)")]
    private static partial Regex Recap();
}

public sealed class RealAnsibleRoleTests(RealFixture real, ITestOutputHelper output) : AnsibleRoleTests<RealFixture>(real, output);

public sealed class EmbeddedAnsibleRoleTests(EmbeddedFixture embedded, ITestOutputHelper output) : AnsibleRoleTests<EmbeddedFixture>(embedded, output);
