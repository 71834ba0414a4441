using Extip.Core.Yaml;

namespace Extip.Core.Tests;

public sealed class YamlJsonTests
{
    [Fact]
    public void Scalars_AreTypedAsTheCoreSchemaTypesThem()
    {
        var doc = YamlJson.Document("""
            int: -12
            float: 1e3
            dot: .5
            inf: .inf
            version: 1.2.3
            tagged: !!str 5
            literal: |
              7
            yes: yes
            """);
        Assert.Equal("""{"int":-12,"float":1000,"dot":0.5,"inf":".inf","version":"1.2.3","tagged":"5","literal":"7\n","yes":"yes"}""", doc.ToJsonString());
    }

    [Fact]
    public void Documents_SkipsEmptyOnes_DocumentWantsExactlyOne_FirstOfNothingIsNull()
    {
        Assert.Equal(2, YamlJson.Documents("a: 1\n---\n---\nb: 2\n").Count);
        var e = Assert.Throws<FormatException>(() => YamlJson.Document("a: 1\n---\nb: 2\n"));
        Assert.Contains("found 2", e.Message, StringComparison.Ordinal);
        Assert.Null(YamlJson.First(""));
        Assert.Equal("""{"a":1}""", YamlJson.First("a: 1\n---\nb: 2\n")!.ToJsonString());
    }

    [Fact]
    public void AliasBomb_IsRefused_BeforeItGrows()
    {
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + string.Concat(Enumerable.Range(0, 8).Select(i =>
            $"{(char)('b' + i)}: &{(char)('b' + i)} [*{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}]\n"));
        var e = Assert.Throws<FormatException>(() => YamlJson.Documents(bomb));
        Assert.Contains("excessive aliasing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadYaml_AndKeysJsonCannotHave_AreFormatErrorsWithTheirLine()
    {
        var bad = Assert.Throws<FormatException>(() => YamlJson.Documents("a: [1, 2\nb: 3\n"));
        Assert.StartsWith("error converting YAML to JSON: yaml: ", bad.Message, StringComparison.Ordinal);
        var key = Assert.Throws<FormatException>(() => YamlJson.Documents("x: 1\n? [a, b]\n: 2\n"));
        Assert.Contains("line 2: only scalar keys", key.Message, StringComparison.Ordinal);
    }
}
