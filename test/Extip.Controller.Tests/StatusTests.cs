using Extip.Core.Allocation;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Controller.Tests;

/// <summary>Issue 11: every object says how it is doing.</summary>
public sealed class StatusTests
{
    [Fact]
    public async Task IpClaimEditedByHand_IsPutBack_WithAnEventNamingWhatWasUndone()
    {
        var env = await EmbeddedAsync();
        await using var _ = env;
        await env.Agents.StartAsync(["k8s1"]);
        await env.StartControllerAsync(env.Options());
        var ns = await env.NamespaceAsync("apps");
        await env.PoolAsync("p", ["192.0.2.0/28"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        var claim = (await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.SequenceEqual(["k8s1"]), what: "claim on k8s1"))[0];
        var name = claim.Metadata.Name;
        await env.Client.CustomObjects.PatchClusterCustomObjectAsync(new V1Patch("""{"spec":{"nodes":["k8s9"],"interface":"eth9"}}""", V1Patch.PatchType.MergePatch),
            ExtipApi.Group, ExtipApi.Version, IpClaim.Plural, name);
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.SequenceEqual(["k8s1"]) && c[0].Spec.Interface == "lo", what: "claim put back");
        var events = await EventuallyAsync(() => env.EventsAsync(env.Namespace, name), e => e.Any(x => x.Reason == "ClaimRestored"), what: "ClaimRestored event");
        var e = events.First(x => x.Reason == "ClaimRestored");
        Assert.Equal("Warning", e.Type);
        Assert.Equal($"IPClaim {name}: put back spec.interface eth9 → lo, spec.nodes [k8s9] → [k8s1] (changed outside the controller; the controller alone writes IPClaims)", e.Message);
    }

    [Fact]
    public async Task PoolStatus_CountsAddressesKeptForADeletedService_ApartFromThoseInUse()
    {
        var env = await EmbeddedAsync();
        await using var _ = env;
        await env.Agents.StartAsync(["k8s1"]);
        await env.StartControllerAsync(env.Options() with { StickyGrace = TimeSpan.FromHours(1) });
        var ns = await env.NamespaceAsync("apps");
        await env.PoolAsync("p", ["192.0.2.0/28"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("keep"), ns);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("gone"), ns);
        await EventuallyAsync(() => env.PoolStatusAsync("p"), p => p.Status?.InUseIPv4 == 2, what: "two in use");
        await env.DeleteServiceAsync(ns, "gone");
        var pool = await EventuallyAsync(() => env.PoolStatusAsync("p"), p => p.Status?.InUseIPv4 == 1, what: "one in use after the deletion");
        Assert.Equal((1L, 1L), (pool.Status!.InUseIPv4, pool.Status.ReservedIPv4));
    }

    [Fact]
    public async Task PoolStatus_ReservedCount_DropsWhenTheGracePeriodEnds_WithNoOtherChange()
    {
        var env = await EmbeddedAsync();
        await using var _ = env;
        await env.Agents.StartAsync(["k8s1"]);
        await env.StartControllerAsync(env.Options() with { StickyGrace = TimeSpan.FromSeconds(1) });
        var ns = await env.NamespaceAsync("apps");
        await env.PoolAsync("p", ["192.0.2.0/28"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("gone"), ns);
        await EventuallyAsync(() => env.PoolStatusAsync("p"), p => p.Status?.InUseIPv4 == 1, what: "one in use");
        await env.DeleteServiceAsync(ns, "gone");
        await EventuallyAsync(() => env.PoolStatusAsync("p"), p => p.Status is { InUseIPv4: 0, ReservedIPv4: 0 }, what: "nothing in use or kept once the grace period is over");
    }
}
