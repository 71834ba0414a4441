using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Extip.ApiServer;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Crds;
using Extip.Kubernetes.Models;
using Extip.Kubernetes.Status;
using k8s;
using k8s.Models;

namespace Extip.Kubernetes.Tests.Status;

/// <summary>The IPNode status the agent writes against the CRD's strict schema and printer columns, and <c>extip status</c> over a served API.</summary>
public sealed class IpNodeStatusSchemaTests : IAsyncLifetime
{
    private EmbeddedApiServer _server = null!;
    private IKubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _server = new EmbeddedApiServer();
        await _server.StartAsync();
        _client = new Extip.Kubernetes.Client.ExtipKubernetes(new KubernetesClientConfiguration { Host = _server.Url.ToString(), AccessToken = _server.Token, SslCaCerts = _server.Authority() });
        await CrdInstaller.InstallAsync(_client, CancellationToken.None);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>A status with every field set, as the agent writes it.</summary>
    private static IpNodeStatusModel FullStatus()
    {
        var addresses = new List<NodeAddressStatus>
        {
            new() { Address = "200.1.1.1", PrefixLength = 32, Interface = "lo", Mode = "BGP", State = "Held", Since = StatusSite.Now },
            new() { Address = "10.9.9.9", PrefixLength = 32, Interface = "vip0", Mode = "Local", State = "Pending", Message = "interface vip0 does not exist", Since = StatusSite.Now },
        };
        var peers = new List<PeerStatus>
        {
            new() { Name = "tor-v4", Address = "10.0.0.1", State = "Established", Bfd = "Up", PrefixesAdvertised = 1, Since = StatusSite.Now },
            new() { Name = "tor-v6", Address = "2001:db8::1", State = "Active", Bfd = "Down", Message = "connection refused" },
            new() { Name = "tor-x", Address = "10.0.0.9", State = "Established" },
        };
        return new IpNodeStatusModel
        {
            Addresses = addresses,
            Peers = peers,
            Interfaces = [new NodeInterface { Name = "lo", Up = true, Addresses = ["127.0.0.1/8", "200.1.1.1/32"] }, new NodeInterface { Name = "eth1", Up = false }],
            Summary = IpNodeSummary.Of(addresses, peers),
            Conditions = [new Condition { Type = "Ready", Status = "False", Reason = "InterfaceMissing", Message = "10.9.9.9/32 on vip0", LastTransitionTime = StatusSite.Now }],
            LastUpdate = StatusSite.Now,
        };
    }

    [Fact]
    public void Summary_Of_CountsHeldEstablishedAndBfdUp()
    {
        var s = FullStatus().Summary;

        Assert.Equal((2, 1, 3, 2, 1), (s.Addresses, s.Held, s.Peers, s.PeersUp, s.BfdUp));
    }

    [Fact]
    public void Schema_EveryFieldTheAgentWrites_IsTyped()
    {
        var crd = CrdInstaller.Definitions().Single(d => d.Metadata.Name == "ipnodes.extip.io");
        var schema = JsonNode.Parse(KubernetesJson.Serialize(crd.Spec.Versions.Single().Schema.OpenAPIV3Schema))!["properties"]!["status"]!;
        var missing = new List<string>();
        Walk(JsonNode.Parse(JsonSerializer.Serialize(FullStatus()))!, schema, "status", missing);

        Assert.Empty(missing);
    }

    /// <summary>Every object key of <paramref name="value"/> must have a property in <paramref name="schema"/> (arrays through items), unless the schema keeps unknown fields.</summary>
    private static void Walk(JsonNode value, JsonNode schema, string path, List<string> missing)
    {
        if (schema["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() == true)
        {
            return;
        }

        switch (value)
        {
            case JsonObject o:
                foreach (var (key, child) in o)
                {
                    if (schema["properties"]?[key] is not { } sub)
                    {
                        missing.Add($"{path}.{key}");
                    }
                    else if (child is not null)
                    {
                        Walk(child, sub, $"{path}.{key}", missing);
                    }
                }

                break;
            case JsonArray a:
                foreach (var item in a.Where(i => i is not null))
                {
                    Walk(item!, schema["items"]!, $"{path}[]", missing);
                }

                break;
        }
    }

    [Fact]
    public async Task Status_WrittenThroughTheApi_KeptAndShownByPrinterColumns()
    {
        await _client.CustomObjects.CreateClusterCustomObjectAsync(new IpNode { Metadata = new V1ObjectMeta { Name = "node-a" } }, ExtipApi.Group, ExtipApi.Version, IpNode.Plural);
        var patch = JsonSerializer.Serialize(new { status = FullStatus() });
        await _client.CustomObjects.PatchClusterCustomObjectStatusAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), ExtipApi.Group, ExtipApi.Version, IpNode.Plural, "node-a");

        // The controller's label, as it writes it: a merge patch of one key on metadata.
        var label = JsonSerializer.Serialize(new { metadata = new { labels = new Dictionary<string, string> { [ExtipApi.AgentLabel] = ExtipApi.AgentGone } } });
        await _client.CustomObjects.PatchClusterCustomObjectAsync(new V1Patch(label, V1Patch.PatchType.MergePatch), ExtipApi.Group, ExtipApi.Version, IpNode.Plural, "node-a");

        // Nothing pruned: the schema types what the agent writes.
        var (nodes, _) = await Resources.Custom<IpNode>(_client, IpNode.Plural).ListAllAsync(CancellationToken.None);
        var status = nodes.Single().Status!;
        Assert.Equal(["lo", "eth1"], status.Interfaces.Select(i => i.Name));
        Assert.Equal(["127.0.0.1/8", "200.1.1.1/32"], status.Interfaces[0].Addresses);
        Assert.False(status.Interfaces[1].Up);
        Assert.Equal(2, status.Summary.PeersUp);
        Assert.Equal(ExtipApi.AgentGone, nodes.Single().Metadata.Labels[ExtipApi.AgentLabel]);

        // kubectl get ipnodes [-o wide]: the server's table.
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var http = new HttpClient(handler) { BaseAddress = _server.Url };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _server.Token);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/apis/{ExtipApi.Group}/{ExtipApi.Version}/{IpNode.Plural}");
        request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("application/json;as=Table;v=v1;g=meta.k8s.io"));
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var table = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var columns = table["columnDefinitions"]!.AsArray().Select(c => (c!["name"]!.GetValue<string>(), c["priority"]?.GetValue<int>() ?? 0)).ToList();
        Assert.Equal(
            [("Name", 0), ("Agent", 0), ("Ready", 0), ("Held", 0), ("Addresses", 0), ("Updated", 0), ("Reason", 1), ("Wanted", 1), ("Peers-Up", 1), ("Peers", 1), ("BFD-Up", 1)],
            columns);
        var cells = table["rows"]![0]!["cells"]!.AsArray().Select(c => c?.ToString()).ToList();
        Assert.Equal(["node-a", "Gone", "False", "1", "200.1.1.1 10.9.9.9"], cells.Take(5));
        Assert.Equal(["InterfaceMissing", "2", "2", "3", "1"], cells.Skip(6));
    }

    [Fact]
    public async Task Report_FromServedObjects_NodeLiveByItsLease()
    {
        await _client.CustomObjects.CreateClusterCustomObjectAsync(new IpNode { Metadata = new V1ObjectMeta { Name = "node-a" } }, ExtipApi.Group, ExtipApi.Version, IpNode.Plural);
        await _client.CustomObjects.PatchClusterCustomObjectStatusAsync(new V1Patch(JsonSerializer.Serialize(new { status = FullStatus() }), V1Patch.PatchType.MergePatch), ExtipApi.Group, ExtipApi.Version, IpNode.Plural, "node-a");
        await _client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "extip-system" } });
        var renewed = DateTime.UtcNow;
        await _client.CoordinationV1.CreateNamespacedLeaseAsync(StatusSite.Lease("extip-agent-node-a", "node-a", renewed, 4), "extip-system");

        var (nodes, _) = await Resources.Custom<IpNode>(_client, IpNode.Plural).ListAllAsync(CancellationToken.None);
        var (leases, _) = await Resources.Leases(_client, "extip-system").ListAllAsync(CancellationToken.None);
        var live = StatusReport.Build(nodes, [], [], [], [], leases, renewed.AddSeconds(1)).Nodes.Single();
        var gone = StatusReport.Build(nodes, [], [], [], [], leases, renewed.AddSeconds(5)).Nodes.Single();

        // The renewTime survives the round trip as UTC (microseconds kept), so the boundary holds.
        Assert.Equal(AgentState.Live, live.Agent.State);
        Assert.Equal(AgentState.Gone, gone.Agent.State);
        Assert.True(live.Interfaces.Single(i => i.Name == "lo").Addresses.Single(a => a.Address == "200.1.1.1/32").Extip!.Held);
        Assert.False(gone.Interfaces.Single(i => i.Name == "lo").Addresses.Single(a => a.Address == "200.1.1.1/32").Extip!.Held);
    }
}
