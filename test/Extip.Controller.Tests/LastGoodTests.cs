using System.Text.Json;
using Extip.Kubernetes.Models;
using Extip.Testing.Cluster;
using k8s;
using k8s.Models;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Controller.Tests;

/// <summary>Issue 11, last good configuration: a bad edit of a live pool moves no address.</summary>
public sealed class LastGoodTests
{
    private static Task<IpPool> EditAsync(TestEnv env, string name, Action<IpPoolSpecModel> edit) => UpdateAsync(async () =>
    {
        var pool = await env.PoolStatusAsync(name);
        edit(pool.Spec);
        var o = await env.Client.CustomObjects.ReplaceClusterCustomObjectAsync(pool, ExtipApi.Group, ExtipApi.Version, IpPool.Plural, name);
        return KubernetesJson.Deserialize<IpPool>(((JsonElement)o).GetRawText());
    });

    private static Condition Cond(IpPool p, string type) => p.Status!.Conditions.Single(c => c.Type == type);

    public static TheoryData<string, Action<IpPoolSpecModel>, string> BadEdits => new()
    {
        { "prefix", s => s.PrefixLength = 40, "spec.prefixLength: 40 is out of range 1-32 for IPv4" },
        { "reserved", s => s.Addresses = ["127.0.0.1"], "spec.addresses: every address is in a range that is never handed out: 127.0.0.0/8 (loopback)" },
        { "reversed", s => s.Addresses = ["192.0.2.20-192.0.2.10"], "spec.addresses[0]: \"192.0.2.20-192.0.2.10\": range is reversed (192.0.2.10 comes before 192.0.2.20)" },
        { "community", s => s.Announce = new AnnounceModel { Communities = ["65536:1"] }, "spec.announce.communities[0]: \"65536:1\": both halves of a standard community must be 0-65535" },
    };

    [Theory]
    [MemberData(nameof(BadEdits))]
    public async Task InvalidEdit_KeepsServingTheLastValidSpec_NoAddressMoves_AndSaysSo(string label, Action<IpPoolSpecModel> edit, string named)
    {

        var env = await EmbeddedAsync();
        await using var _ = env;
        await env.Agents.StartAsync(["k8s1"]);
        var controller = await env.StartControllerAsync(env.Options());
        var ns = await env.NamespaceAsync("apps");
        await env.PoolAsync("live", ["192.0.2.0/28"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        var before = await EventuallyAsync(() => env.IngressAsync(ns, "web"), i => i.Count == 1, what: "address");
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1, what: "claim");
        var valid = await EventuallyAsync(() => env.PoolStatusAsync("live"), p => p.Status?.LastValidGeneration is not null, what: "last valid generation");
        var generation = valid.Metadata.Generation;

        var edited = await EditAsync(env, "live", edit);
        var pool = await EventuallyAsync(() => env.PoolStatusAsync("live"),
            p => p.Status?.Conditions.Any(c => c.Type == "Invalid" && c.Status == "True" && c.ObservedGeneration == edited.Metadata.Generation) == true, what: $"Invalid condition after the {label} edit");
        var expected = $"{named}; serving the last valid spec (generation {generation})";
        Assert.Equal(("True", expected), (Cond(pool, "Invalid").Status, Cond(pool, "Invalid").Message));
        Assert.Equal(("False", "ServingLastValidSpec", expected), (Cond(pool, "Ready").Status, Cond(pool, "Ready").Reason, Cond(pool, "Ready").Message));
        Assert.Equal(generation, pool.Status!.LastValidGeneration);
        var warning = await EventuallyAsync(() => env.EventsAsync(env.Namespace, "live"), e => e.Any(x => x.Type == "Warning" && x.Reason == "Invalid"), what: "Warning event");
        Assert.Contains($"IPPool live: {expected}", warning.Select(w => w.Message));

        // The Service keeps its address and its claim; a new Service still gets one from the last valid spec.
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("late"), ns);
        var late = await EventuallyAsync(() => env.IngressAsync(ns, "late"), i => i.Count == 1, what: "address from the last valid spec");
        Assert.StartsWith("192.0.2.", late[0], StringComparison.Ordinal);
        Assert.Equal(before, await env.IngressAsync(ns, "web"));
        Assert.Contains(await env.ClaimsAsync(), c => c.Spec.Address == before[0]);

        // A controller restarted meanwhile serves the same last valid spec, from the status.
        await env.KillAsync(controller);

        await env.StartControllerAsync(env.Options("c2"));
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("after-restart"), ns);
        await EventuallyAsync(() => env.IngressAsync(ns, "after-restart"), i => i.Count == 1, what: "address after restart");
        Assert.Equal(before, await env.IngressAsync(ns, "web"));
        Assert.Equal(late, await env.IngressAsync(ns, "late"));

        // A valid edit is served, and Ready again.
        var fixedPool = await EditAsync(env, "live", s => { s.Addresses = ["192.0.2.0/28"]; s.PrefixLength = null; s.Announce = null; });
        var ready = await EventuallyAsync(() => env.PoolStatusAsync("live"),
            p => p.Status?.Conditions.Any(c => c.Type == "Ready" && c.Status == "True" && c.ObservedGeneration == fixedPool.Metadata.Generation) == true, what: "Ready again");
        Assert.Equal(fixedPool.Metadata.Generation, ready.Status!.LastValidGeneration);
        Assert.Equal(before, await env.IngressAsync(ns, "web"));
    }
}

/// <summary>Issue 11: the controller's own validation, for servers whose schema let a typo through.</summary>
public sealed class PoolMappingTests
{
    [Theory]
    [InlineData("""{"addresses":["192.0.2.0/28"],"serviceAllocation":{"namespaceSelector":{"matchExpressions":[{"key":"team","operator":"Notin","values":["b"]}]}}}""",
        "spec.serviceAllocation.namespaceSelector.matchExpressions[0].operator: \"Notin\" is not one of In, NotIn, Exists, DoesNotExist")]
    [InlineData("""{"addresses":["192.0.2.0/28"],"serviceAllocation":{"namespaceSelector":{"matchLabel":{"team":"a"}}}}""",
        "spec.serviceAllocation.namespaceSelector.matchLabel: unknown field (a label selector has matchLabels and matchExpressions)")]
    [InlineData("""{"addresses":["192.0.2.0/28"],"announce":{"nodeSelector":{"matchExpressions":[{"key":"rack","operator":"Exist"}]}}}""",
        "spec.announce.nodeSelector.matchExpressions[0].operator: \"Exist\" is not one of In, NotIn, Exists, DoesNotExist")]
    [InlineData("""{"addresses":["192.0.2.0/28"],"announce":{"mode":"bgp"}}""", "spec.announce.mode: \"bgp\" is not one of BGP, L2, Local")]
    [InlineData("""{"addresses":["192.0.2.0/28"],"announce":{"mode":"1"}}""", "spec.announce.mode: \"1\" is not one of BGP, L2, Local")]
    [InlineData("""{"addresses":["192.0.2.0/28"],"announce":{"distribution":"all"}}""", "spec.announce.distribution: \"all\" is not one of All, Balance")]
    public void UnknownValues_MakeThePoolInvalid_NeverADefault(string spec, string error)
    {
        var pool = new IpPool { Metadata = new V1ObjectMeta { Name = "p", Generation = 1 }, Spec = KubernetesJson.Deserialize<IpPoolSpecModel>(spec) };
        var set = Extip.Core.Pools.PoolSet.Build([Mapping.PoolMapping.ToSpec(pool)]);
        Assert.Empty(set.Pools);
        Assert.Equal(error, Assert.Single(set.Problems).Message);
    }
}
