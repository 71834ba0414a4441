using Extip.Kubernetes.Queues;

namespace Extip.Kubernetes.Tests;

public class WorkQueueTests
{
    [Fact]
    public async Task KeyAddedTwice_IsProcessedOnce()
    {
        var q = new WorkQueue<string>();
        q.Add("a");
        q.Add("a");
        q.Add("b");
        Assert.Equal("a", await q.TakeAsync(CancellationToken.None));
        Assert.Equal("b", await q.TakeAsync(CancellationToken.None));
        Assert.Equal(0, q.Length);
    }

    [Fact]
    public async Task KeyAddedWhileProcessing_ComesBackAfterDone_NotBefore()
    {
        var q = new WorkQueue<string>();
        q.Add("a");
        var key = await q.TakeAsync(CancellationToken.None);
        q.Add("a");
        Assert.Equal(0, q.Length);
        q.Done(key);
        Assert.Equal(1, q.Length);
        Assert.Equal("a", await q.TakeAsync(CancellationToken.None));
    }

    [Fact]
    public async Task RateLimited_BacksOffPerKey()
    {
        var q = new WorkQueue<string>(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
        var start = DateTime.UtcNow;
        q.AddRateLimited("a");
        await q.TakeAsync(CancellationToken.None);
        var first = DateTime.UtcNow - start;
        q.Done("a");
        q.AddRateLimited("a");
        await q.TakeAsync(CancellationToken.None);
        var second = DateTime.UtcNow - start - first;
        Assert.True(first >= TimeSpan.FromMilliseconds(90), $"first {first.TotalMilliseconds}");
        Assert.True(second >= TimeSpan.FromMilliseconds(190), $"second {second.TotalMilliseconds}");
    }
}
