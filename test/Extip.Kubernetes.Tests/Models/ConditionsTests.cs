using Extip.Kubernetes.Models;

namespace Extip.Kubernetes.Tests.Models;

/// <summary>Conditions as Kubernetes conventions write them: the transition time moves with the status, not with each write.</summary>
public sealed class ConditionsTests
{
    private static readonly DateTime Before = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime Now = Before.AddMinutes(5);

    private static Condition C(string type, string status, DateTime at, string message = "m") => new() { Type = type, Status = status, Reason = "R", Message = message, LastTransitionTime = at };

    [Fact]
    public void KeepTransitions_AConditionWhoseStatusStayed_KeepsItsTime_AChangedOrNewOneTakesNow()
    {
        var previous = new[] { C("Ready", "True", Before), C("Exhausted", "False", Before) };
        var next = new List<Condition> { C("Ready", "True", Now, message: "3 addresses held"), C("Exhausted", "True", Now), C("Overlap", "False", Now) };
        Conditions.KeepTransitions(next, previous);
        Assert.Equal([Before, Now, Now], next.Select(c => c.LastTransitionTime));

        var first = new List<Condition> { C("Ready", "True", Now) };
        Conditions.KeepTransitions(first, null);
        Assert.Equal(Now, first[0].LastTransitionTime);
    }

    [Fact]
    public void Same_IgnoresTransitionTimes_NotWhatTheConditionsSay()
    {
        Assert.True(Conditions.Same([C("Ready", "True", Now)], [C("Ready", "True", Before)]));
        Assert.False(Conditions.Same([C("Ready", "True", Now)], [C("Ready", "True", Now, message: "other")]));
        Assert.False(Conditions.Same([C("Ready", "True", Now)], [C("Ready", "False", Now)]));
        Assert.False(Conditions.Same([C("Ready", "True", Now)], []));
        Assert.False(Conditions.Same([C("Ready", "True", Now)], null));
    }
}
