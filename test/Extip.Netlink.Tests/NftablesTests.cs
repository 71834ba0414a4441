using Extip.Lab;

namespace Extip.Netlink.Tests;

/// <summary>libnftables called in the process, in namespaces the tests create.</summary>
public sealed class NftablesTests : IDisposable
{
    private readonly Site _site;
    private readonly string _ns;

    public NftablesTests()
    {
        Root.Require();
        _site = Site.Create();
        _ns = _site.AddNamespace("nft");
    }

    public void Dispose() => _site.Dispose();

    [Fact]
    public void ARuleSet_LandsInTheNamespaceItNames_AndOnlyThere()
    {
        var table = $"extip_test_{Environment.ProcessId}";
        var error = Nftables.Run(_ns, $"table ip {table} {{\n  chain prerouting {{\n    type filter hook prerouting priority -150; policy accept;\n    ip daddr 192.0.2.1 tcp flags & syn == 0 ct state new counter drop\n  }}\n}}\n", out var available);

        Assert.True(available, error);
        Assert.Null(error);
        var listed = Site.Exec(_ns, "nft", "list", "table", "ip", table);
        Assert.Contains("ip daddr 192.0.2.1", listed, StringComparison.Ordinal);
        Assert.DoesNotContain(table, Shell.Run("nft", ["list", "tables"]), StringComparison.Ordinal);

        // Replaced whole, and removed.
        Assert.Null(Nftables.Run(_ns, $"table ip {table} {{}}\ndelete table ip {table}\n", out _));
        Assert.DoesNotContain(table, Site.Exec(_ns, "nft", "list", "tables"), StringComparison.Ordinal);
    }

    [Fact]
    public void ARuleSetThatDoesNotParse_SaysWhy_AndChangesNothing()
    {
        var error = Nftables.Run(_ns, "table ip extip_ok {}\ntable ip extip_bad { chain c { type filter hook prerouting priority 0; ip daddr 192.0.2.1 frobnicate } }\n", out var available);

        Assert.True(available);
        Assert.NotNull(error);
        Assert.Contains("syntax error", error, StringComparison.Ordinal);
        Assert.DoesNotContain("extip_ok", Site.Exec(_ns, "nft", "list", "tables"), StringComparison.Ordinal);
    }
}
