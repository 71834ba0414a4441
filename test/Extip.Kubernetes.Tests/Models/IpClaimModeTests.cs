using Extip.Core.Pools;
using Extip.Kubernetes.Models;

namespace Extip.Kubernetes.Tests.Models;

/// <summary>The claim's mode as the agent reads it: typed, one place, whatever the case; nothing else is a mode.</summary>
public sealed class IpClaimModeTests
{
    [Theory]
    [InlineData("BGP", AnnounceMode.BGP)]
    [InlineData("bgp", AnnounceMode.BGP)]
    [InlineData("L2", AnnounceMode.L2)]
    [InlineData("Local", AnnounceMode.Local)]
    [InlineData("1", AnnounceMode.Local)]
    [InlineData("wat", AnnounceMode.Local)]
    [InlineData("", AnnounceMode.Local)]
    public void Mode_ReadsTyped(string mode, AnnounceMode expected) => Assert.Equal(expected, new IpClaimSpecModel { Mode = mode }.AnnounceMode);

    [Theory]
    [InlineData("All", "BGP", true)]
    [InlineData("All", "Local", true)]
    [InlineData("All", "L2", false)]
    [InlineData("All", "l2", false)]
    [InlineData("all", "BGP", true)]
    [InlineData("Balance", "BGP", false)]
    [InlineData(null, "BGP", false)]
    [InlineData("0", "BGP", false)]
    public void SharedByNodes_AllButL2(string? distribution, string mode, bool shared) =>
        Assert.Equal(shared, new IpClaimSpecModel { Distribution = distribution, Mode = mode }.SharedByNodes);

    [Theory]
    [InlineData("All", Distribution.All)]
    [InlineData("balance", Distribution.Balance)]
    [InlineData("1", null)]
    [InlineData("wat", null)]
    [InlineData(null, null)]
    public void Distribution_ReadsTyped_AndOnlyANameIsADistribution(string? distribution, Distribution? expected) =>
        Assert.Equal(expected, new IpClaimSpecModel { Distribution = distribution }.DistributionKind);
}
