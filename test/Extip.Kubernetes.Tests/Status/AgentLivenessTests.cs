using Extip.Kubernetes.Status;
using k8s.Models;

namespace Extip.Kubernetes.Tests.Status;

public sealed class AgentLivenessTests
{
    private static readonly DateTime Now = StatusSite.Now;

    private static AgentLiveness Of(V1Lease lease, DateTime now) =>
        AgentLiveness.Of("n1", new Dictionary<string, V1Lease> { [lease.Metadata.Name] = lease }, now);

    [Theory]
    [InlineData(0, AgentState.Live)]
    [InlineData(3_999, AgentState.Live)]
    [InlineData(4_000, AgentState.Gone)] // renewTime + duration == now: expired, as the agent fences (ValidUntil <= now)
    [InlineData(60_000, AgentState.Gone)]
    public void Of_RenewedAgo_LiveUntilRenewTimePlusDuration(int agoMs, AgentState expected)
    {
        var lease = StatusSite.Lease("extip-agent-n1", "n1", Now.AddMilliseconds(-agoMs), 4);

        Assert.Equal(expected, Of(lease, Now).State);
    }

    [Fact]
    public void Of_TimesWithoutKind_TakenAsUtc()
    {
        // A renewTime with no kind, one second old in UTC: read as local time it would be hours off.
        var renewed = DateTime.SpecifyKind(Now.AddSeconds(-1), DateTimeKind.Unspecified);
        var lease = StatusSite.Lease("extip-agent-n1", "n1", renewed, 4);

        var liveness = Of(lease, DateTime.SpecifyKind(Now, DateTimeKind.Unspecified));

        Assert.Equal(AgentState.Live, liveness.State);
        Assert.Equal(Now.AddSeconds(3), liveness.ValidUntil);
        Assert.Equal(DateTimeKind.Utc, liveness.ValidUntil!.Value.Kind);
    }

    [Fact]
    public void Of_HeldByAnother_Gone()
    {
        var liveness = Of(StatusSite.Lease("extip-agent-n1", "n2", Now, 4), Now);

        Assert.Equal(AgentState.Gone, liveness.State);
        Assert.Contains("held by n2", liveness.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Of_NoRenewTime_Unknown()
    {
        Assert.Equal(AgentState.Unknown, Of(StatusSite.Lease("extip-agent-n1", "n1", null, 4), Now).State);
        Assert.Equal(AgentState.Unknown, Of(StatusSite.Lease("extip-agent-n1", "n1", Now, null), Now).State);
    }

    [Fact]
    public void Of_LeasesNotRead_Unknown()
    {
        Assert.Equal(AgentState.Unknown, AgentLiveness.Of("n1", null, Now).State);
    }
}
