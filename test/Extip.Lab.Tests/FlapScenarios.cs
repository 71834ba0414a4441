using System.Text.Json;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>
/// Flapping nodes, as <c>extip bench flaps</c> runs them (with a fixed seed, short): agents are
/// killed, stopped and hung at random while Services are recreated, then all healed.
/// </summary>
public sealed class FlapScenarios(ITestOutputHelper output)
{
    [Fact]
    public async Task AgentsFlapping_FixedSeed_EndWithEveryKernelMatchingItsClaims_AndEveryBalancePoolEven()
    {
        await using var lab = new LabDriver(output);
        var text = await lab.MustAsync("bench", "flaps", "--seconds", "30", "--seed", "7");
        var last = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        using var json = JsonDocument.Parse(last);
        var r = json.RootElement;
        Assert.Equal("flaps", r.GetProperty("bench").GetString());
        Assert.True(r.GetProperty("actions").GetInt32() > 0);

        // Nothing stale anywhere, nothing missing: the kernels hold exactly what the claims say.
        Assert.Equal(0, r.GetProperty("finalMismatches").GetInt32());

        // Each Balance pool is even within one over the agents once the flapping nodes have settled.
        Assert.True(r.GetProperty("maxPoolImbalance").GetInt32() <= 1, last);
    }
}
