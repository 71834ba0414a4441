using Extip.Core.Selectors;

namespace Extip.Core.Tests.Pools;

public class LabelSelectorTests
{
    private static readonly Dictionary<string, string> Labels = new() { ["env"] = "prod", ["tier"] = "web" };

    public static TheoryData<LabelSelector, bool> Cases => new()
    {
        { LabelSelector.Everything, true },
        { new LabelSelector { MatchLabels = new Dictionary<string, string> { ["env"] = "prod" } }, true },
        { new LabelSelector { MatchLabels = new Dictionary<string, string> { ["env"] = "dev" } }, false },
        { new LabelSelector { MatchExpressions = [new("env", SelectorOperator.In, ["prod", "stage"])] }, true },
        { new LabelSelector { MatchExpressions = [new("env", SelectorOperator.NotIn, ["prod"])] }, false },
        { new LabelSelector { MatchExpressions = [new("zone", SelectorOperator.NotIn, ["a"])] }, true },
        { new LabelSelector { MatchExpressions = [new("tier", SelectorOperator.Exists, [])] }, true },
        { new LabelSelector { MatchExpressions = [new("tier", SelectorOperator.DoesNotExist, [])] }, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_FollowsKubernetesSemantics(LabelSelector selector, bool expected) => Assert.Equal(expected, selector.Matches(Labels));
}
