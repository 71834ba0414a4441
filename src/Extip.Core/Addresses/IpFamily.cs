namespace Extip.Core.Addresses;

/// <summary>The two address families, named as Kubernetes names them in <c>spec.ipFamilies</c>.</summary>
public enum IpFamily
{
    IPv4 = 4,
    IPv6 = 6,
}

public static class IpFamilyExtensions
{
    public static int Bits(this IpFamily family) => family == IpFamily.IPv4 ? 32 : 128;

    public static IpFamily Other(this IpFamily family) => family == IpFamily.IPv4 ? IpFamily.IPv6 : IpFamily.IPv4;
}
