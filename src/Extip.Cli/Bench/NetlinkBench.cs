using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Extip.Lab;
using Extip.Netlink;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench netlink</c>: adds then removes N addresses on one interface of a fresh
/// namespace with extip's netlink client, then the same with <c>ip -batch</c>, in the same run.
/// The kernel here has no dummy driver, so the interface is one end of a veth pair (up), which
/// the kernel treats the same way for addresses. Addresses are /128s from 2001:db8::/32: the
/// IPv4 documentation ranges hold only 768.
/// </summary>
internal static class NetlinkBench
{
    private const byte Mark = 0x65;

    public static int Run(int count, TextWriter output)
    {
        using var site = Site.Create();
        var ns = site.AddNamespace("nlbench");
        var peer = site.AddNamespace("nlpeer");
        site.Veth(ns, "d0", peer, "d0");
        var addresses = Enumerable.Range(0, count).Select(i => IPAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"2001:db8:{(i >> 16) & 0xffff:x}:{i & 0xffff:x}::1"))).ToList();

        using var nl = RtNetlink.Open(ns);
        var link = nl.Link("d0") ?? throw new InvalidOperationException("d0 is missing");
        var specs = addresses.Select(a => new RtNetlink.AddressSpec(link.Index, a, 128, Mark)).ToList();

        // Warm up the JIT on a few addresses that are not part of the run.
        var warm = Enumerable.Range(0, 200).Select(i => new RtNetlink.AddressSpec(link.Index, IPAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"2001:db8:ffff::{i + 1:x}")), 128, Mark)).ToList();
        nl.AddAddresses(warm);
        nl.DeleteAddresses(warm);

        var sw = Stopwatch.StartNew();
        var addFailures = nl.AddAddresses(specs).Count(e => e is not null);
        var addSeconds = sw.Elapsed.TotalSeconds;
        var held = nl.Addresses(AddressFamily.InterNetworkV6).Count(a => a.Protocol == Mark);
        sw.Restart();
        var delFailures = nl.DeleteAddresses(specs).Count(e => e is not null);
        var ours = addSeconds + sw.Elapsed.TotalSeconds;
        var left = nl.Addresses(AddressFamily.InterNetworkV6).Count(a => a.Protocol == Mark);

        var dir = Directory.CreateTempSubdirectory("extip-nlbench");
        try
        {
            var add = Path.Combine(dir.FullName, "add");
            var del = Path.Combine(dir.FullName, "del");
            File.WriteAllLines(add, addresses.Select(a => $"addr add {a}/128 dev d0 nodad"));
            File.WriteAllLines(del, addresses.Select(a => $"addr del {a}/128 dev d0"));
            sw.Restart();
            Shell.Run("ip", "-n", ns, "-batch", add);
            var ipAdd = sw.Elapsed.TotalSeconds;
            var ipHeld = nl.Addresses(AddressFamily.InterNetworkV6).Count(a => addresses.Count > 0 && a.InterfaceIndex == link.Index && a.Address.ToString().StartsWith("2001:db8:", StringComparison.Ordinal) && !a.Address.ToString().StartsWith("2001:db8:ffff", StringComparison.Ordinal));
            sw.Restart();
            Shell.Run("ip", "-n", ns, "-batch", del);
            var ipSeconds = ipAdd + sw.Elapsed.TotalSeconds;

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"extip netlink: added {count - addFailures} ({held} listed) in {addSeconds:F3} s, deleted {count - delFailures} ({left} left), {ours:F3} s in all"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ip -batch: added ({ipHeld} listed) in {ipAdd:F3} s, {ipSeconds:F3} s in all"));
            BenchResult.Print(output, new()
            {
                ["bench"] = "netlink",
                ["addresses"] = count,
                ["seconds"] = Math.Round(ours, 4),
                ["ipBatchSeconds"] = Math.Round(ipSeconds, 4),
                ["ratio"] = Math.Round(ours / ipSeconds, 3),
                ["addSeconds"] = Math.Round(addSeconds, 4),
                ["ipBatchAddSeconds"] = Math.Round(ipAdd, 4),
                ["interface"] = "veth",
            });
            return addFailures == 0 && delFailures == 0 && held == count && left == 0 && ipHeld == count ? 0 : 1;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
