using System.Text.Json.Nodes;
using Extip.ApiServer.Patching;

namespace Extip.ApiServer.Tests.Patching;

/// <summary>RFC 6902 examples (appendix A) and the edge the conformance suite does not reach.</summary>
public class JsonPatchTests
{
    [Theory]
    [InlineData("""{"foo":"bar"}""", """[{"op":"add","path":"/baz","value":"qux"}]""", """{"foo":"bar","baz":"qux"}""")]
    [InlineData("""{"foo":["bar","baz"]}""", """[{"op":"add","path":"/foo/1","value":"qux"}]""", """{"foo":["bar","qux","baz"]}""")]
    [InlineData("""{"baz":"qux","foo":"bar"}""", """[{"op":"remove","path":"/baz"}]""", """{"foo":"bar"}""")]
    [InlineData("""{"baz":"qux","foo":"bar"}""", """[{"op":"replace","path":"/baz","value":"boo"}]""", """{"baz":"boo","foo":"bar"}""")]
    [InlineData("""{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}""", """[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]""", """{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}""")]
    [InlineData("""{"foo":["bar"]}""", """[{"op":"add","path":"/foo/-","value":["abc","def"]}]""", """{"foo":["bar",["abc","def"]]}""")]
    [InlineData("""{"spec":{"a":1},"x":2}""", """[{"op":"replace","path":"/spec","value":{"b":2}}]""", """{"x":2,"spec":{"b":2}}""")]
    [InlineData("""{"a/b":1,"m~n":2}""", """[{"op":"remove","path":"/a~1b"},{"op":"replace","path":"/m~0n","value":3}]""", """{"m~n":3}""")]
    public void Apply_RfcExamples(string doc, string patch, string expected)
    {
        var result = JsonPatch.Apply(JsonNode.Parse(doc)!, JsonNode.Parse(patch)!.AsArray());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), result), result.ToJsonString());
    }

    [Theory]
    [InlineData("""{"foo":"bar"}""", """[{"op":"test","path":"/foo","value":"baz"}]""")]
    [InlineData("""{"foo":"bar"}""", """[{"op":"remove","path":"/nope"}]""")]
    [InlineData("""{"foo":"bar"}""", """[{"op":"add","path":"/a/b","value":1}]""")]
    [InlineData("""{"foo":"bar"}""", """[{"op":"frobnicate","path":"/foo"}]""")]
    public void Apply_ImpossiblePatch_ThrowsPatchException(string doc, string patch) =>
        Assert.Throws<PatchException>(() => JsonPatch.Apply(JsonNode.Parse(doc)!, JsonNode.Parse(patch)!.AsArray()));
}
