using Microsoft.Extensions.Time.Testing;

namespace Extip.Controller.Tests;

/// <summary>Route-flap damping for nodes, in virtual time.</summary>
public sealed class NodeDampingTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly NodeDamping _damping;

    public NodeDampingTests() => _damping = new NodeDamping(_time, new HoldDownOptions
    {
        Base = TimeSpan.FromSeconds(3),
        Max = TimeSpan.FromSeconds(20),
        FlapWindow = TimeSpan.FromSeconds(60),
    });

    private static HashSet<string> Set(params string[] nodes) => new(nodes, StringComparer.Ordinal);

    [Fact]
    public void NodesLiveAtTheFirstLook_AreSettled_ALaterOne_WaitsItsHoldDown()
    {
        _damping.Observe(Set("a", "b"));
        Assert.Empty(_damping.Settling().Settling);

        _time.Advance(TimeSpan.FromSeconds(1));
        _damping.Observe(Set("a", "b", "c"));
        var (settling, next) = _damping.Settling();
        Assert.Equal(["c"], settling);
        Assert.Equal(TimeSpan.FromSeconds(3), next);

        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Empty(_damping.Settling().Settling);
    }

    [Fact]
    public void ANodeThatFlaps_WaitsTwiceAsLongEachTime_UpToTheMax_AndOnceStable_TheBaseAgain()
    {
        _damping.Observe(Set("a", "b"));
        var holds = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            // b dies and comes back 10 s later, each time within a minute of its last return.
            _time.Advance(TimeSpan.FromSeconds(5));
            _damping.Observe(Set("a"));
            _time.Advance(TimeSpan.FromSeconds(5));
            _damping.Observe(Set("a", "b"));
            Assert.Equal(["b"], _damping.Settling().Settling);
            holds.Add(_damping.HoldDown("b")!.Value.TotalSeconds);
        }

        Assert.Equal([3, 6, 12, 20, 20], holds);

        // Stable for longer than the flap window: the next return waits the base again.
        _time.Advance(TimeSpan.FromSeconds(120));
        _damping.Observe(Set("a"));
        _damping.Observe(Set("a", "b"));
        Assert.Equal(TimeSpan.FromSeconds(3), _damping.HoldDown("b"));
    }

    [Fact]
    public void ZeroHoldDown_IsOff()
    {
        var off = new NodeDamping(_time, new HoldDownOptions { Base = TimeSpan.Zero });
        off.Observe(Set("a"));
        off.Observe(Set("a", "b"));
        Assert.Empty(off.Settling().Settling);
    }
}
