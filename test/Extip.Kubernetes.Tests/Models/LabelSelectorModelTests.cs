using Extip.Core.Selectors;
using Extip.Kubernetes.Models;
using k8s;

namespace Extip.Kubernetes.Tests.Models;

/// <summary>
/// Issue 11: a selector typo (an unknown key, an unknown operator) widened a pool or a BGPPeer.
/// The code refuses it whatever the server let through (an older schema, a direct write).
/// </summary>
public sealed class LabelSelectorModelTests
{
    [Theory]
    [InlineData("""{"matchLabel":{"team":"a"}}""", "sel.matchLabel: unknown field (a label selector has matchLabels and matchExpressions)")]
    [InlineData("""{"matchExpressions":[{"key":"team","operator":"Notin","values":["b"]}]}""", "sel.matchExpressions[0].operator: \"Notin\" is not one of In, NotIn, Exists, DoesNotExist")]
    [InlineData("""{"matchExpressions":[{"key":"team","operator":"notin","values":["b"]}]}""", "sel.matchExpressions[0].operator: \"notin\" is not one of In, NotIn, Exists, DoesNotExist")]
    [InlineData("""{"matchExpressions":[{"key":"team","operator":"0","values":["b"]}]}""", "sel.matchExpressions[0].operator: \"0\" is not one of In, NotIn, Exists, DoesNotExist")]
    [InlineData("""{"matchExpressions":[{"key":"team","values":["b"]}]}""", "sel.matchExpressions[0].operator: required (one of In, NotIn, Exists, DoesNotExist)")]
    [InlineData("""{"matchExpressions":[{"key":"team","operator":"NotIn","value":["b"]}]}""", "sel.matchExpressions[0].value: unknown field (a requirement has key, operator and values)")]
    [InlineData("""{"matchExpressions":[{"key":"team","operator":"Exists","values":["b"]}]}""", "sel.matchExpressions[0].values: must be empty for operator Exists")]
    [InlineData("""{"matchExpressions":[{"key":"","operator":"Exists"}]}""", "sel.matchExpressions[0].key: must not be empty")]
    public void BadSelector_IsAnErrorNamingFieldAndValue(string json, string error)
    {
        var model = KubernetesJson.Deserialize<LabelSelectorModel>(json);
        var errors = new List<string>();
        model.ToSelector("sel", errors);
        Assert.Contains(error, errors);
    }

    [Fact]
    public void GoodSelector_MapsEveryOperator_WithoutErrors()
    {
        var model = KubernetesJson.Deserialize<LabelSelectorModel>("""
            {"matchLabels":{"team":"a"},"matchExpressions":[
              {"key":"env","operator":"In","values":["x"]},{"key":"env2","operator":"NotIn","values":["y"]},
              {"key":"tier","operator":"Exists"},{"key":"legacy","operator":"DoesNotExist"}]}
            """);
        var errors = new List<string>();
        var s = model.ToSelector("sel", errors);
        Assert.Empty(errors);
        Assert.Equal([SelectorOperator.In, SelectorOperator.NotIn, SelectorOperator.Exists, SelectorOperator.DoesNotExist], s.MatchExpressions.Select(e => e.Operator));
        Assert.True(s.Matches(new Dictionary<string, string> { ["team"] = "a", ["env"] = "x", ["tier"] = "1" }));
    }
}
