namespace Extip.Netlink.Tests;

/// <summary>Tests that change the kernel's state need root; without it they fail (CI runs as root), never skip.</summary>
internal static class Root
{
    public static void Require()
    {
        if (Environment.UserName != "root" && !IsEffectiveRoot())
        {
            Assert.Fail("this test needs root (CAP_NET_ADMIN, network namespaces); run the tests as root, as CI does");
        }
    }

    private static bool IsEffectiveRoot() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?.Split('\t', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(2) == "0";
}
