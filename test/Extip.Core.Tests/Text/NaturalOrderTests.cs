using CsCheck;
using Extip.Core.Text;

namespace Extip.Core.Tests.Text;

public class NaturalOrderTests
{
    [Fact]
    public void NodeNames_InTheOrderAPersonReadsThem()
    {
        string[] names = ["k8s10", "k8s2", "k8s1", "k8s11", "rack-b-node3", "rack-a-node12", "rack-a-node3", "k8s02", "k8s"];
        Assert.Equal(
            ["k8s", "k8s1", "k8s02", "k8s2", "k8s10", "k8s11", "rack-a-node3", "rack-a-node12", "rack-b-node3"],
            names.Order(NaturalOrder.Instance));
    }

    [Fact]
    public void Digits_BeyondAnyIntegerType_StillCompareByValue()
    {
        Assert.True(NaturalOrder.Instance.Compare("n99999999999999999999999", "n100000000000000000000000") < 0);
        Assert.True(NaturalOrder.Instance.Compare("n007", "n7") != 0);
    }

    /// <summary>A total order: antisymmetric, transitive, zero only for equal strings (what a sort and a sorted set need).</summary>
    [Fact]
    public void IsATotalOrder()
    {
        var name = Gen.String[Gen.Char["0123456789ab-"], 0, 6];
        Gen.Select(name, name, name).Sample((a, b, c) =>
        {
            var o = NaturalOrder.Instance;
            Assert.Equal(Math.Sign(o.Compare(a, b)), -Math.Sign(o.Compare(b, a)));
            Assert.Equal(o.Compare(a, b) == 0, string.Equals(a, b, StringComparison.Ordinal));
            if (o.Compare(a, b) <= 0 && o.Compare(b, c) <= 0)
            {
                Assert.True(o.Compare(a, c) <= 0, $"{a} <= {b} <= {c} but not {a} <= {c}");
            }
        }, iter: 20_000);
    }
}
