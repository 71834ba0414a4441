using Extip.Core.Addresses;

namespace Extip.Core.Allocation;

/// <summary>The address families a Service wants, from <c>ipFamilyPolicy</c> and <c>ipFamilies</c>: the primary always, the other per policy.</summary>
internal readonly record struct Families(IpFamily Primary, IpFamilyPolicy Policy)
{
    public int Count => Policy == IpFamilyPolicy.SingleStack ? 1 : 2;

    public (IpFamily Family, bool Required) this[int index] =>
        index == 0 ? (Primary, true) : (Primary.Other(), Policy == IpFamilyPolicy.RequireDualStack);

    public bool Includes(IpFamily family) => family == Primary || Policy != IpFamilyPolicy.SingleStack;

    public override string ToString() => Policy == IpFamilyPolicy.SingleStack ? Primary.ToString() : $"{Primary}, {Primary.Other()}";
}
