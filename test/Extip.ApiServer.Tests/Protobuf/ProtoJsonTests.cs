using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Protobuf;

namespace Extip.ApiServer.Tests.Protobuf;

/// <summary>The codec's rules that need no server (the wire itself is checked against kube-apiserver in the conformance suite).</summary>
public sealed class ProtoJsonTests
{
    [Theory]
    [InlineData(0L, "0s")]
    [InlineData(1_500_000_000L, "1.5s")]
    [InlineData(300_000_000L, "300ms")]
    [InlineData(3_723_000_000_000L, "1h2m3s")]
    [InlineData(60_000_000_000L, "1m0s")]
    [InlineData(-2_000L, "-2µs")]
    public void GoDuration_FormatsAndParsesAsGo(long nanos, string text)
    {
        Assert.Equal(text, GoDuration.Format(nanos));
        Assert.Equal(nanos, GoDuration.Parse(text));
    }

    [Theory]
    [InlineData("application/vnd.kubernetes.protobuf, application/json", true)]
    [InlineData("application/vnd.kubernetes.protobuf", true)]
    [InlineData("application/json, application/vnd.kubernetes.protobuf", false)]
    [InlineData("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io, application/json", false)]
    [InlineData("", false)]
    public void Negotiation_ProtobufOnlyWhenNamedFirst(string accept, bool protobuf) =>
        Assert.Equal(protobuf, ApiHandler.PrefersProtobuf(accept));

    [Fact]
    public void RoundTrip_KeepsPointerZeroes_DropsOmittedZeroes_FlattensInlineStructs()
    {
        var pod = JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"","creationTimestamp":"2026-12-03T10:00:00Z"},
             "spec":{"terminationGracePeriodSeconds":0,"hostNetwork":false,
               "volumes":[{"name":"v","emptyDir":{"sizeLimit":"1Gi"}}],
               "containers":[{"name":"c","image":"i","ports":[{"containerPort":80}],
                 "readinessProbe":{"tcpSocket":{"port":"http"}}}]}}
            """)!.AsObject();
        var back = KubeProtobuf.Decode(KubeProtobuf.TryEncode(pod)!);
        // *int64 zero is kept; bool and string zeroes with omitempty are not, as Go's JSON would print it.
        Assert.Equal(0, back["spec"]!["terminationGracePeriodSeconds"]!.GetValue<long>());
        Assert.False(back["spec"]!.AsObject().ContainsKey("hostNetwork"));
        Assert.False(back["metadata"]!.AsObject().ContainsKey("namespace"));
        Assert.Equal("2026-12-03T10:00:00Z", back["metadata"]!["creationTimestamp"]!.GetValue<string>());
        // Volume's VolumeSource and Probe's Handler are inline in JSON, messages of their own in protobuf.
        Assert.Equal("1Gi", back["spec"]!["volumes"]![0]!["emptyDir"]!["sizeLimit"]!.GetValue<string>());
        Assert.Equal("http", back["spec"]!["containers"]![0]!["readinessProbe"]!["tcpSocket"]!["port"]!.GetValue<string>());
        Assert.Equal(80, back["spec"]!["containers"]![0]!["ports"]![0]!["containerPort"]!.GetValue<int>());
    }

    [Fact]
    public void Encode_RefusesWhatTheMessageCannotHold_SoTheClientGetsJson()
    {
        // A field the v1.20 message lacks, a custom resource, a wrong type: none may lose data.
        Assert.Null(KubeProtobuf.TryEncode(JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"future":1}""")!.AsObject()));
        Assert.Null(KubeProtobuf.TryEncode(JsonNode.Parse("""{"apiVersion":"extip.io/v1alpha1","kind":"IPPool","metadata":{"name":"x"}}""")!.AsObject()));
        Assert.Null(KubeProtobuf.TryEncode(JsonNode.Parse("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"ports":[{"port":"eighty"}]}}""")!.AsObject()));
        Assert.NotNull(KubeProtobuf.TryEncode(JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"b"}}""")!.AsObject()));
    }

    [Fact]
    public void Decode_EnvelopesNestedWithoutEnd_AreRefused_NotAStackOverflow()
    {
        // A WatchEvent whose object is the envelope of another WatchEvent, and so on: 70 kB.
        var watch = KubeProtobuf.MessageOf("v1", "WatchEvent")!;
        var body = KubeProtobuf.TryEncode(JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}""")!.AsObject())!;
        for (var i = 0; i < 2000; i++)
        {
            var b = new ProtoBuilder(watch).String("type", "ADDED");
            b.Message("object", b.New("object").Bytes("raw", body));
            body = KubeProtobuf.Envelope("v1", "WatchEvent", b.ToByteArray());
        }

        var e = Assert.Throws<ProtobufException>(() => KubeProtobuf.Decode(body));
        Assert.Contains("nests deeper than", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_ATimeOutsideGosYears_IsAProtobufError()
    {
        var cm = new ProtoBuilder(KubeProtobuf.MessageOf("v1", "ConfigMap")!);
        var meta = cm.New("metadata").String("name", "x");
        meta.Message("creationTimestamp", meta.New("creationTimestamp").Int64("seconds", 1_000_000_000_000));
        cm.Message("metadata", meta);
        var e = Assert.Throws<ProtobufException>(() => KubeProtobuf.Decode(KubeProtobuf.Envelope("v1", "ConfigMap", cm.ToByteArray())));
        Assert.Contains("outside years 1 to 9999", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeleteOptions_InTheRequestsGroupVersion_AreApimachinerys()
    {
        Assert.Equal("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions", KubeProtobuf.MessageOf("v1", "DeleteOptions")!.FullName);
        Assert.Equal("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions", KubeProtobuf.MessageOf("apps/v1", "DeleteOptions")!.FullName);
    }

    [Fact]
    public void Decode_UnknownKind_SaysSo()
    {
        var body = KubeProtobuf.TryEncode(JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}""")!.AsObject())!;
        var text = System.Text.Encoding.Latin1.GetString(body).Replace("ConfigMap", "ConfigMup", StringComparison.Ordinal);
        var e = Assert.Throws<ProtobufKindException>(() => KubeProtobuf.Decode(System.Text.Encoding.Latin1.GetBytes(text)));
        Assert.Contains("ConfigMup", e.Message, StringComparison.Ordinal);
    }
}
