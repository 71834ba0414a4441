using System.Net;
using System.Text.Json.Nodes;
using Extip.Testing.Fixtures;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>
/// The conformance suite: every test runs against the embedded server and against a real
/// kube-apiserver v1.20, and must pass on both. Behaviour that only exists after v1.20 is tested
/// in <see cref="EmbeddedOnlyTests"/>, each test naming the version that introduced it.
/// </summary>
public abstract partial class ConformanceTests<TFixture>(TFixture fixture) : ApiTests<TFixture>(fixture)
    where TFixture : ClusterFixture
{
}

/// <summary>What every API test needs: the fixture, a client, raw HTTP, and Status assertions.</summary>
public abstract partial class ApiTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : ClusterFixture
{
    protected TFixture Fixture { get; } = fixture;

    protected IKubernetes Client => Fixture.Client;

    /// <summary>Runs a call that must fail with <paramref name="code"/>; returns the Status body.</summary>
    protected static async Task<JsonObject> FailsWith(HttpStatusCode code, Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<HttpOperationException>(call);
        Assert.Equal(code, e.Response.StatusCode);
        var status = ClusterFixture.ParseStatus(e.Response.Content);
        Assert.Equal("Status", status["kind"]?.GetValue<string>());
        Assert.Equal("Failure", status["status"]?.GetValue<string>());
        Assert.Equal((int)code, status["code"]?.GetValue<int>());
        return status;
    }

    protected static V1ConfigMap ConfigMap(string name, Dictionary<string, string>? labels = null, Dictionary<string, string>? data = null) =>
        new() { Metadata = new V1ObjectMeta { Name = name, Labels = labels }, Data = data ?? new Dictionary<string, string> { ["k"] = "v" } };

    protected static V1Service Service(string name, string type = "ClusterIP", params int[] ports) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1ServiceSpec
        {
            Type = type,
            Selector = new Dictionary<string, string> { ["app"] = name },
            Ports = (ports.Length == 0 ? [80] : ports).Select(p => new V1ServicePort { Name = $"p{p}", Port = p, Protocol = "TCP" }).ToList(),
        },
    };
}

public sealed class EmbeddedConformanceTests(EmbeddedFixture fixture) : ConformanceTests<EmbeddedFixture>(fixture);

public sealed class RealConformanceTests(RealFixture fixture) : ConformanceTests<RealFixture>(fixture);
