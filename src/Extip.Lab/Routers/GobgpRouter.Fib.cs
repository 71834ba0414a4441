using System.Net.Sockets;
using System.Text.Json;

namespace Extip.Lab.Routers;

/// <summary>
/// gobgpd keeps its routes to itself (it has no kernel FIB of its own; deployments pair it with
/// zebra or a FIB agent). As the lab's router it needs one: this loop reads the global RIB every
/// <see cref="FibInterval"/> and puts each prefix into the namespace's kernel with every
/// neighbour's next hop (ECMP, as BIRD's and FRR's multipath do), removing what went away.
/// </summary>
public sealed partial class GobgpRouter
{
    /// <summary>How often the RIB is read into the kernel: a route change reaches the kernel this much later at most.</summary>
    public static readonly TimeSpan FibInterval = TimeSpan.FromMilliseconds(100);

    private readonly CancellationTokenSource _fibStop = new();
    private Task? _fib;

    private void StartFib() => _fib = Task.Run(() => FibLoopAsync(_fibStop.Token));

    private async Task FibLoopAsync(CancellationToken ct)
    {
        var installed = new Dictionary<string, string>(StringComparer.Ordinal);
        var families = Config.Neighbors.Any(n => n.Address.AddressFamily == AddressFamily.InterNetworkV6) ? new[] { "ipv4", "ipv6" } : ["ipv4"];
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var wanted = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var family in families)
                {
                    foreach (var (prefix, hops) in Rib(await CliAsync(["global", "rib", "-a", family, "-j"], ct).ConfigureAwait(false)))
                    {
                        wanted[prefix] = string.Join(' ', hops.Order(StringComparer.Ordinal));
                    }
                }

                foreach (var (prefix, hops) in wanted.Where(w => !installed.TryGetValue(w.Key, out var h) || h != w.Value))
                {
                    var via = hops.Split(' ').SelectMany(h => new[] { "nexthop", "via", h }).ToArray();
                    Shell.Run("ip", ["-n", Namespace, prefix.Contains(':', StringComparison.Ordinal) ? "-6" : "-4", "route", "replace", prefix, "proto", "bgp", .. via], check: false);
                    installed[prefix] = hops;
                }

                foreach (var prefix in installed.Keys.Where(p => !wanted.ContainsKey(p)).ToList())
                {
                    Shell.Run("ip", ["-n", Namespace, prefix.Contains(':', StringComparison.Ordinal) ? "-6" : "-4", "route", "del", prefix, "proto", "bgp"], check: false);
                    installed.Remove(prefix);
                }

                await Task.Delay(FibInterval, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is LabException or JsonException or IOException)
            {
                Keep($"fib: {e.Message}");
                await Task.Delay(FibInterval, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Each prefix of `gobgp global rib -j` with the next hops of all its paths.</summary>
    private static IEnumerable<(string Prefix, HashSet<string> Hops)> Rib(string json)
    {
        if (!json.TrimStart().StartsWith('{'))
        {
            yield break;
        }

        using var doc = JsonDocument.Parse(json);
        foreach (var prefix in doc.RootElement.EnumerateObject())
        {
            var hops = new HashSet<string>(StringComparer.Ordinal);
            foreach (var path in prefix.Value.EnumerateArray())
            {
                if (path.TryGetProperty("withdrawal", out var w) && w.ValueKind == JsonValueKind.True)
                {
                    continue;
                }

                foreach (var attr in path.GetProperty("attrs").EnumerateArray())
                {
                    // NEXT_HOP (3) for IPv4; MP_REACH_NLRI (14) carries IPv6's (the global one first).
                    if (attr.TryGetProperty("nexthop", out var hop) && hop.GetString() is { Length: > 0 } h && !h.StartsWith("fe80", StringComparison.OrdinalIgnoreCase))
                    {
                        hops.Add(h);
                    }
                }
            }

            if (hops.Count > 0)
            {
                yield return (prefix.Name, hops);
            }
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await _fibStop.CancelAsync().ConfigureAwait(false);
        if (_fib is not null)
        {
            await _fib.ConfigureAwait(false);
        }

        _fibStop.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
