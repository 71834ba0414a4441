using Extip.Kubernetes.Client;
using Extip.Kubernetes.Events;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Extip.Kubernetes.Tests;

public sealed class EventRecorderTests : EmbeddedServerTest
{
    private static V1ObjectReference Svc(int i) => new() { ApiVersion = "v1", Kind = "Service", Name = $"s{i}", NamespaceProperty = "default", Uid = $"uid-{i}" };

    private static async Task Until(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            await Task.Delay(10, cts.Token);
        }
    }

    [Fact]
    public async Task ARepeat_IsCountedOnTheSameEvent_AndWhatItRemembersStaysBounded()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
        var recorder = new EventRecorder(Client, "test", NullLogger.Instance, time, remember: 20);
        using var cts = new CancellationTokenSource();
        var running = recorder.RunAsync(cts.Token);

        recorder.Normal(Svc(0), "AddressAssigned", "Assigned 192.0.2.1");
        recorder.Normal(Svc(0), "AddressAssigned", "Assigned 192.0.2.1");
        await Until(() => recorder.Written == 2);
        var first = Assert.Single((await Client.CoreV1.ListNamespacedEventAsync("default")).Items);
        Assert.Equal(2, first.Count);

        for (var i = 1; i <= 100; i++)
        {
            recorder.Normal(Svc(i), "AddressAssigned", $"Assigned 192.0.2.{i}");
            time.Advance(TimeSpan.FromSeconds(1));
        }

        await Until(() => recorder.Written == 102);
        Assert.InRange(recorder.Remembered, 1, 20);

        // The latest is still remembered: its repeat is counted, not written anew.
        recorder.Normal(Svc(100), "AddressAssigned", "Assigned 192.0.2.100");
        await Until(() => recorder.Written == 103);
        var events = (await Client.CoreV1.ListNamespacedEventAsync("default")).Items;
        Assert.Equal(101, events.Count);
        Assert.Equal(2, events.Single(e => e.InvolvedObject.Name == "s100").Count);

        await cts.CancelAsync();
        await running;
    }
}
