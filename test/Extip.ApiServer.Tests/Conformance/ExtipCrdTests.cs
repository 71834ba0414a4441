using System.Net;
using System.Text.Json.Nodes;
using Extip.Kubernetes.Crds;
using Extip.Testing.Fixtures;
using k8s;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>
/// Issue 11, strict schemas: extip's own CRDs refuse at the door what the code would refuse
/// (a selector typo, an unknown operator, a non-finite hold time, a host name as peer), with the
/// field named, on the embedded server and on the real v1.20 alike.
/// </summary>
public abstract partial class ConformanceTests<TFixture>
{
    private static readonly SemaphoreSlim CrdsOnce = new(1, 1);
    private static readonly HashSet<ClusterFixture> Installed = [];

    private async Task ExtipCrdsAsync()
    {
        await CrdsOnce.WaitAsync();
        try
        {
            if (Installed.Add(Fixture))
            {
                await CrdInstaller.InstallAsync(Client, CancellationToken.None);
            }
        }
        finally
        {
            CrdsOnce.Release();
        }
    }

    private static JsonObject Extip(string kind, string spec) =>
        JsonNode.Parse($"{{\"apiVersion\":\"extip.io/v1alpha1\",\"kind\":\"{kind}\",\"metadata\":{{\"name\":\"g{Guid.NewGuid().ToString("N")[..10]}\"}},\"spec\":{spec}}}")!.AsObject();

    private const string Pool = "IPPool";
    private const string Peer = "BGPPeer";
    private const string PeerBase = "\"peerAddress\":\"198.51.100.1\",\"peerASN\":64500,\"localASN\":64512";

    private static string P(string more) => "{" + PeerBase + "," + more + "}";

    public static TheoryData<string, string, string, string> BadExtipObjects => new()
    {
        // A selector typo would widen the pool: refused, with the selector named.
        { Pool, """{"addresses":["192.0.2.0/28"],"serviceAllocation":{"namespaceSelector":{"matchLabel":{"team":"a"}}}}""", "spec.serviceAllocation.namespaceSelector", "should have at most 0 properties" },
        { Pool, """{"addresses":["192.0.2.0/28"],"serviceAllocation":{"serviceSelector":{"matchLabels":{"a":"b"},"matchExpression":[]}}}""", "spec.serviceAllocation.serviceSelector", "should have at most 0 properties" },
        { Pool, """{"addresses":["192.0.2.0/28"],"serviceAllocation":{"namespaceSelector":{"matchExpressions":[{"key":"team","operator":"Notin","values":["b"]}]}}}""", "spec.serviceAllocation.namespaceSelector.matchExpressions", "Unsupported value: \"Notin\"" },
        { Pool, """{"addresses":["192.0.2.0/28"],"serviceAllocation":{"namespaceSelector":{"matchExpressions":[{"key":"team","operator":"NotIn","value":["b"]}]}}}""", "spec.serviceAllocation.namespaceSelector.matchExpressions", "should have at most 2 properties" },
        { Pool, """{"addresses":["192.0.2.0/28"],"serviceAllocation":{"namespaceSelector":{"matchExpressions":[{"key":"team","values":["b"]}]}}}""", "spec.serviceAllocation.namespaceSelector.matchExpressions", "Required value" },
        { Pool, """{"addresses":["192.0.2.0/28"],"announce":{"nodeSelector":{"matchLabels":{"rack":7}}}}""", "spec.announce.nodeSelector.matchLabels.rack", "must be of type string" },
        { Pool, """{"addresses":["bogus"]}""", "spec.addresses", "should match" },
        { Pool, """{"addresses":["192.0.2.0/28"],"announce":{"interface":"eth0:1"}}""", "spec.announce.interface", "should match" },
        { Pool, """{"addresses":["192.0.2.0/28"],"announce":{"communities":["no-export"]}}""", "spec.announce.communities", "should match" },
        { Pool, """{"addresses":["192.0.2.0/28"],"announce":{"mode":"bgp"}}""", "spec.announce.mode", "Unsupported value: \"bgp\"" },
        { Peer, P(@"""holdTime"":""1e400"""), "spec.holdTime", "should match" },
        { Peer, P(@"""holdTime"":""NaN"""), "spec.holdTime", "should match" },
        { Peer, P(@"""keepaliveTime"":""-3s"""), "spec.keepaliveTime", "should match" },
        { Peer, """{"peerAddress":"router.example","peerASN":64500,"localASN":64512}""", "spec.peerAddress", "should match" },
        { Peer, P(@"""routerID"":""2001:db8::1"""), "spec.routerID", "should match" },
        { Peer, P(@"""passwordSecret"":{""name"":""tor""}"), "spec.passwordSecret.namespace", "Required value" },
        { Peer, P(@"""nodeSelector"":{""matchExpressions"":[{""key"":""rack"",""operator"":""Exist""}]}"), "spec.nodeSelector.matchExpressions", "Unsupported value: \"Exist\"" },
        { Peer, P(@"""nodeSelector"":{""matchLabel"":{""rack"":""r7""}}"), "spec.nodeSelector", "should have at most 0 properties" },
        { Peer, P(@"""bfd"":{""minRxMs"":600000}"), "spec.bfd.minRxMs", "less than or equal to 60000" },
    };

    [Theory]
    [MemberData(nameof(BadExtipObjects))]
    public async Task ExtipCrd_RefusesWhatTheCodeWouldRefuse_NamingTheField(string kind, string spec, string field, string message)
    {
        await ExtipCrdsAsync();
        var plural = kind == Pool ? "ippools" : "bgppeers";
        var status = await FailsWith(HttpStatusCode.UnprocessableEntity,
            () => Client.CustomObjects.CreateClusterCustomObjectAsync(Extip(kind, spec), "extip.io", "v1alpha1", plural));
        Assert.Equal("Invalid", status["reason"]!.GetValue<string>());
        var causes = status["details"]!["causes"]!.AsArray().Select(c => (Field: c!["field"]!.GetValue<string>(), Message: c["message"]!.GetValue<string>())).ToList();

        // v1.20 names an item of a list by the list's path; the embedded server adds the index.
        Assert.Contains(causes, c => (c.Field == field || c.Field.StartsWith(field + "[", StringComparison.Ordinal) || c.Field.StartsWith(field + ".", StringComparison.Ordinal))
            && c.Message.Contains(message, StringComparison.Ordinal));
    }

    public static TheoryData<string, string> GoodExtipObjects => new()
    {
        { Pool, """{"addresses":["192.0.2.0/28","2001:db8::/120","198.51.100.10-198.51.100.20"],"serviceAllocation":{"namespaceSelector":{"matchLabels":{"team":"a"},"matchExpressions":[{"key":"env","operator":"NotIn","values":["prod"]},{"key":"tier","operator":"Exists"}]}},"announce":{"mode":"BGP","interface":"lo","communities":["65000:100","65000:1:2"]}}""" },
        { Pool, """{"addresses":["192.0.2.0/28"],"serviceAllocation":{"serviceSelector":{}}}""" },
        { Peer, P(@"""holdTime"":""1m30s"",""keepaliveTime"":""30"",""connectTime"":""500ms"",""routerID"":""192.0.2.7"",""sourceAddress"":""2001:db8::b"",""nodeSelector"":{""matchExpressions"":[{""key"":""rack"",""operator"":""DoesNotExist""}]}") },
    };

    [Theory]
    [MemberData(nameof(GoodExtipObjects))]
    public async Task ExtipCrd_AcceptsValidObjects(string kind, string spec)
    {
        await ExtipCrdsAsync();
        var plural = kind == Pool ? "ippools" : "bgppeers";
        var o = Extip(kind, spec);
        await Client.CustomObjects.CreateClusterCustomObjectAsync(o, "extip.io", "v1alpha1", plural);
        await Client.CustomObjects.DeleteClusterCustomObjectAsync("extip.io", "v1alpha1", plural, o["metadata"]!["name"]!.GetValue<string>());
    }
}
