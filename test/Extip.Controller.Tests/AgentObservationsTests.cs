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
    public void Judge_AnAgentSilentForMoreThanHalfItsLease_IsQuiet_StillLive()
    {
        Renew("a");
        Renew("b");
        _time.Advance(TimeSpan.FromMilliseconds(900));
        Renew("b");
        Assert.Empty(_agents.Judge().Quiet);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        var j = _agents.Judge();
        Assert.Equal(["a"], j.Quiet);
        Assert.Contains("a", j.Live);
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
        Assert.NotNull(during.Disruption);
        Assert.Equal(TimeSpan.FromSeconds(2), during.NextExpiry); // the disruption's grace: judge again then

        // The API server is back: b's renewal gets through first. That proves nothing about a
        // and c yet: their renewals may be a moment behind.
        Renew("b");
        Assert.Equal(["a", "b", "c"], _agents.Judge().Live.Order(StringComparer.Ordinal));
        Renew("c");
        Assert.Equal(["a", "b", "c"], _agents.Judge().Live.Order(StringComparer.Ordinal));

        // b and c go on renewing, a does not: after half a Lease of that, and the disruption's
        // grace (a Lease) from when it was seen over, a is dead.
        for (var i = 0; i < 6; i++)
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

    /// <summary>Advances in 100 ms steps, the named agents renewing every 400 ms and Judge called every step (as the timer would); the last judgement.</summary>
    private AgentObservations.Judgement Run(AgentObservations agents, TimeSpan span, params string[] renewing)
    {
        AgentObservations.Judgement last = agents.Judge();
        for (var t = TimeSpan.Zero; t < span; t += TimeSpan.FromMilliseconds(100))
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            if (t.TotalMilliseconds % 400 == 0)
            {
                foreach (var n in renewing)
                {
                    agents.Observe(Lease(n, new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(_time.GetTimestamp())));
                }
            }

            last = agents.Judge();
        }

        return last;
    }

    [Fact]
    public void Judge_MostAgentsExpireTogether_WhileOneRenews_ADisruption_NoExpiryConfirmed_UntilTheGraceIsOver()
    {
        var agents = new AgentObservations(_time, new DisruptionRule { Grace = TimeSpan.FromSeconds(3) });
        Run(agents, TimeSpan.FromSeconds(1), "a", "b", "c", "d");

        // a, b and c fall silent at once (cut off from the API together); d goes on renewing.
        var j = Run(agents, TimeSpan.FromSeconds(2.5), "d");
        Assert.Equal(1, agents.Disruptions);
        Assert.NotNull(j.Disruption);
        Assert.Equal(["a", "b", "c", "d"], j.Live.Order(StringComparer.Ordinal));
        Assert.Equal(["a", "b", "c"], j.Unconfirmed);

        // The grace runs from the declaration: then they are dead (a rack that lost power does
        // not hold its claims for ever), and the disruption is not declared again.
        j = Run(agents, TimeSpan.FromSeconds(3), "d");
        Assert.Equal(["d"], j.Live);
        Assert.Null(j.Disruption);
        Assert.Equal(1, agents.Disruptions);
    }

    [Fact]
    public void Judge_OneAgentOfFourExpires_NoDisruption_ConfirmedDeadAtOnce()
    {
        var agents = new AgentObservations(_time);
        Run(agents, TimeSpan.FromSeconds(1), "a", "b", "c", "d");
        var j = Run(agents, TimeSpan.FromSeconds(2.5), "b", "c", "d");
        Assert.Equal(0, agents.Disruptions);
        Assert.Null(j.Disruption);
        Assert.Equal(["b", "c", "d"], j.Live.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Judge_AfterAnOutageOfEveryone_AnAgentStillOnItsWayGetsTheGrace_ThenIsDead()
    {
        var agents = new AgentObservations(_time, new DisruptionRule { Grace = TimeSpan.FromSeconds(3) });
        Run(agents, TimeSpan.FromSeconds(1), "a", "b", "c");
        var j = Run(agents, TimeSpan.FromSeconds(30));
        Assert.Equal(1, agents.Disruptions);
        Assert.Equal(["a", "b", "c"], j.Unconfirmed);

        // The API server is back: a and b renew, c not yet. Without the disruption rule c would
        // be confirmed dead half a Lease after a's and b's renewals resumed; it gets the grace.
        j = Run(agents, TimeSpan.FromSeconds(2), "a", "b");
        Assert.Contains("c", j.Live);
        j = Run(agents, TimeSpan.FromSeconds(1.5), "a", "b");
        Assert.Equal(["a", "b"], j.Live.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Judge_ADrainingAgent_IsLiveAndDraining_UntilItsLeaseSaysOtherwise()
    {
        Renew("a");
        var lease = Lease("b", new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        lease.Metadata.Annotations = new Dictionary<string, string> { [ExtipApi.DrainingAnnotation] = "true" };
        _agents.Observe(lease);
        var j = _agents.Judge();
        Assert.Equal(["a", "b"], j.Live.Order(StringComparer.Ordinal));
        Assert.Equal(["b"], j.Draining);

        // The same renewTime without the annotation (a new agent's first renewal would change it too): not draining.
        lease.Metadata.Annotations = null;
        _agents.Observe(lease);
        Assert.Empty(_agents.Judge().Draining);

        // Draining and then released: neither live nor draining.
        lease.Metadata.Annotations = new Dictionary<string, string> { [ExtipApi.DrainingAnnotation] = "true" };
        lease.Spec.HolderIdentity = null;
        _agents.Observe(lease);
        j = _agents.Judge();
        Assert.Equal(["a"], j.Live);
        Assert.Empty(j.Draining);
    }
}
