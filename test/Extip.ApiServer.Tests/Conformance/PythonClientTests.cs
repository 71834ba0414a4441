using System.Diagnostics;
using System.Text.Json.Nodes;
using Extip.Testing.Fixtures;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>
/// Issue 12: a second client library, in another language: Debian's python3-kubernetes drives
/// both servers. It asks for watches with <c>watch=True</c>, which kube-apiserver reads as true
/// (anything but 0 or false) and the embedded server once read as a plain list.
/// </summary>
public abstract partial class ConformanceTests<TFixture>
{
    [Fact]
    public async Task PythonClient_CreatesListsPagesPatchesWatchesAndDeletes()
    {
        // Debian's interpreter, where Debian's python3-kubernetes is (a python3 earlier on PATH may lack it).
        var ns = await Fixture.NewNamespaceAsync();
        var script = Path.Combine(ClusterFixture.RepoRoot(), "test", "clients", "python_conformance.py");
        var psi = new ProcessStartInfo("/usr/bin/python3", [script, Fixture.Kubeconfig, ns]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"/usr/bin/python3 {script} failed ({p.ExitCode}):\n{await stderr}\n{await stdout}");
        var seen = JsonNode.Parse((await stdout).Trim().Split('\n')[^1])!;
        Assert.Equal("py-a", seen["created"]!.GetValue<string>());
        Assert.Equal("patched", seen["patched"]!.GetValue<string>());
        Assert.Equal("""["py-a","py-b"]""", seen["listed"]!.ToJsonString());
        Assert.Equal("""[["py-a"],["py-b"]]""", seen["pages"]!.ToJsonString());
        Assert.Equal("""[["ADDED","py-b"],["MODIFIED","py-a"],["DELETED","py-b"]]""", seen["events"]!.ToJsonString());
        Assert.Equal(404, seen["readDeleted"]!.GetValue<int>());
    }
}
