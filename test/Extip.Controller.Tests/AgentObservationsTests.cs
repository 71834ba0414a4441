using Extip.Kubernetes.Models;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;

namespace Extip.Controller.Tests;

/// <summary>Agent liveness on the controller's own clock, in virtual time: expiries, confirmation by other agents, disruptions.</summary>
public sealed class AgentObservationsTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly AgentObservations _agents;

    public AgentObservationsTests() => _agents = new AgentObservations(_time);

    private static V1Lease Lease(string node, DateTime renew, int seconds = 2, string? holder = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = ExtipApi.AgentLeasePrefix + node },
        Spec = new V1LeaseSpec { HolderIdentity = holder ?? node, RenewTime = renew, LeaseDurationSeconds = seconds },
    };

    /// <summary>The agent renews: a new renewTime seen now. Its value is the agent's clock: only its change counts.</summary>
    private void Renew(string node, int seconds = 2) => _agents.Observe(Lease(node, new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(_time.GetTimestamp()), seconds));

    [Fact]
    public void Judge_RenewedWithinTheDuration_Live_NextExpiryIsTheDurationSinceTheLastRenewal()
    {
        Renew("a");
        _time.Advance(TimeSpan.FromMilliseconds(500));
        var j = _agents.Judge();
        Assert.Equal(["a"], j.Live);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), j.NextExpiry);
        Assert.Empty(j.Unconfirmed);
    }

    [Fact]
    public void Judge_OneAgentSilent_OtherRenewing_ExpiryConfirmed_Dead()
    {
        Renew("a");
        Renew("b");
        for (var i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(400));
            Renew("b");
        }

        var j = _agents.Judge();
        Assert.Equal(["b"], j.Live);
        Assert.Empty(j.Unconfirmed);
    }

    [Fact]
    public void Judge_EveryAgentSilentTogether_NoExpiryConfirmed_AllKeptLive_UntilOneRenewsAgain()
    {
        Renew("a");
        Renew("b");
        Renew("c");
        _time.Advance(TimeSpan.FromSeconds(30)); // an API server outage: nobody is seen renewing
        var during = _agents.Judge();
        Assert.Equal(["a", "b", "c"], during.Live.Order(StringComparer.Ordinal));
        Assert.Equal(["a", "b", "c"], during.Unconfirmed);
        Assert.Null(during.NextExpiry);

        // The API server is back: b's renewal gets through first. That proves nothing about a
        // and c yet: their renewals may be a moment behind.
        Renew("b");
        Assert.Equal(["a", "b", "c"], _agents.Judge().Live.Order(StringComparer.Ordinal));
        Renew("c");
        Assert.Equal(["a", "b", "c"], _agents.Judge().Live.Order(StringComparer.Ordinal));

        // b and c go on renewing, a does not: after half a Lease of that, a is dead.
        for (var i = 0; i < 3; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(400));
            Renew("b");
            Renew("c");
        }

        var after = _agents.Judge();
        Assert.Equal(["b", "c"], after.Live.Order(StringComparer.Ordinal));
        Assert.Empty(after.Unconfirmed);
    }

    [Fact]
    public void Judge_RenewalSeenTooSoonAfterTheSilentOnesLast_DoesNotConfirm()
    {
        // b's renewal came a moment after a's last one: a had no chance to renew since, so it proves nothing.
        Renew("a");
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Renew("b");
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(["a", "b"], _agents.Judge().Unconfirmed);
    }

    [Fact]
    public void Judge_ReleasedLease_DeadAtOnce()
    {
        Renew("a");
        Renew("b");
        _agents.Observe(Lease("a", DateTime.UtcNow, holder: string.Empty));
        Assert.Equal(["b"], _agents.Judge().Live);
    }

    [Fact]
    public void Judge_AgentClockFarAhead_OrBehind_ChangesNothing()
    {
        // renewTime values from a skewed clock: only that they change matters.
        _agents.Observe(Lease("a", new DateTime(2090, 1, 1, 0, 0, 0, DateTimeKind.Utc)));
        _agents.Observe(Lease("b", new DateTime(1990, 1, 1, 0, 0, 0, DateTimeKind.Utc)));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(["a", "b"], _agents.Judge().Live.Order(StringComparer.Ordinal));
        for (var i = 1; i <= 5; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(400));
            _agents.Observe(Lease("b", new DateTime(1990, 1, 1, 0, 0, i, DateTimeKind.Utc)));
        }

        Assert.Equal(["b"], _agents.Judge().Live);
    }

    [Fact]
    public void Forget_DeletedLease_NotLive()
    {
        Renew("a");
        _agents.Forget(ExtipApi.AgentLeasePrefix + "a");
        Assert.Empty(_agents.Judge().Live);
    }
}
