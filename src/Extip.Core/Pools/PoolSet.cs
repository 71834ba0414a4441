using System.Globalization;
using System.Text.RegularExpressions;
using Extip.Core.Addresses;

namespace Extip.Core.Pools;

/// <summary>
/// All pools, validated together: an invalid pool is reported and left out, and of two
/// overlapping pools the older one (creation time, then name) is kept and the other left out.
/// Valid pools never suffer from a bad one.
/// </summary>
public sealed partial class PoolSet
{
    private PoolSet(IReadOnlyList<Pool> pools, IReadOnlyList<PoolProblem> problems)
    {
        Pools = pools;
        Problems = problems;
        ByName = pools.ToDictionary(p => p.Name, StringComparer.Ordinal);
    }

    public static PoolSet Empty { get; } = new([], []);

    /// <summary>Usable pools in the order automatic allocation tries them.</summary>
    public IReadOnlyList<Pool> Pools { get; }

    public IReadOnlyDictionary<string, Pool> ByName { get; }

    public IReadOnlyList<PoolProblem> Problems { get; }

    public static PoolSet Build(IEnumerable<IpPoolSpec> specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        var problems = new List<PoolProblem>();
        var candidates = new List<(IpPoolSpec Spec, List<AddressRange> Ranges)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spec in specs.OrderBy(s => s.CreatedAt ?? DateTimeOffset.MaxValue).ThenBy(s => s.Name, StringComparer.Ordinal))
        {
            if (!seen.Add(spec.Name))
            {
                problems.Add(new(spec.Name, PoolCondition.Invalid, $"metadata.name: duplicate pool name \"{spec.Name}\"", true));
                continue;
            }

            var errors = new List<string>();
            var ranges = Validate(spec, errors);
            if (errors.Count > 0)
            {
                problems.Add(new(spec.Name, PoolCondition.Invalid, string.Join("; ", errors), true));
                continue;
            }

            candidates.Add((spec, ranges));
        }

        // Older pools win: each pool is checked against those already accepted.
        var accepted = new List<(AddressRange Range, string Pool)>();
        var kept = new List<(IpPoolSpec Spec, List<AddressRange> Ranges)>();
        foreach (var (spec, ranges) in candidates)
        {
            var clash = ranges.SelectMany(r => accepted.Where(a => a.Range.Overlaps(r)).Select(a => (Mine: r, Theirs: a))).FirstOrDefault();
            if (clash.Theirs.Pool is not null)
            {
                problems.Add(new(spec.Name, PoolCondition.Overlap,
                    $"spec.addresses: {clash.Mine} overlaps {clash.Theirs.Range} of pool \"{clash.Theirs.Pool}\"; this pool is younger and is not used", true));
                problems.Add(new(clash.Theirs.Pool, PoolCondition.Overlap,
                    $"spec.addresses: {clash.Theirs.Range} overlaps {clash.Mine} of pool \"{spec.Name}\"; that pool is younger and is not used", false));
                continue;
            }

            accepted.AddRange(ranges.Select(r => (r, spec.Name)));
            kept.Add((spec, ranges));
        }

        var ordered = kept
            .OrderBy(k => k.Spec.ServiceAllocation is null ? 1 : 0)
            .ThenBy(k => k.Spec.ServiceAllocation?.Priority ?? int.MaxValue)
            .ThenBy(k => k.Spec.Name, StringComparer.Ordinal)
            .Select((k, i) => new Pool(k.Spec, k.Ranges, i))
            .ToList();
        return new PoolSet(ordered, problems);
    }

    /// <summary>Which usable pool holds the address, if any.</summary>
    public Pool? Find(Address address)
    {
        foreach (var p in Pools)
        {
            if (p.Contains(address))
            {
                return p;
            }
        }

        return null;
    }

    private static List<AddressRange> Validate(IpPoolSpec spec, List<string> errors)
    {
        var ranges = new List<AddressRange>();
        if (spec.Addresses.Count == 0)
        {
            errors.Add("spec.addresses: must list at least one CIDR, range or address");
        }

        for (var i = 0; i < spec.Addresses.Count; i++)
        {
            if (AddressRange.TryParse(spec.Addresses[i], out var r, out var reason))
            {
                ranges.Add(r);
            }
            else
            {
                errors.Add($"spec.addresses[{i}]: \"{spec.Addresses[i]}\": {reason}");
            }
        }

        var hasV4 = ranges.Any(r => r.Family == IpFamily.IPv4);
        var hasV6 = ranges.Any(r => r.Family == IpFamily.IPv6);
        if (spec.PrefixLength is { } pl)
        {
            var family = hasV4 || !hasV6 ? IpFamily.IPv4 : IpFamily.IPv6;
            CheckPrefix("spec.prefixLength", pl, family, errors);
        }

        if (spec.PrefixLengthV6 is { } pl6)
        {
            CheckPrefix("spec.prefixLengthV6", pl6, IpFamily.IPv6, errors);
        }

        var a = spec.Announce;
        if (a.NodesPerAddress is { } npa && npa < 1)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"spec.announce.nodesPerAddress: {npa} must be at least 1"));
        }

        if (a.Interface is { } iface && !InterfaceName().IsMatch(iface))
        {
            errors.Add($"spec.announce.interface: \"{iface}\" is not a Linux interface name (1-15 characters, no '/', ':' or spaces)");
        }

        for (var i = 0; i < a.Communities.Count; i++)
        {
            if (!Community.TryParse(a.Communities[i], out _, out var why))
            {
                errors.Add($"spec.announce.communities[{i}]: \"{a.Communities[i]}\": {why}");
            }
        }

        if (a.NodeSelector is { } ns)
        {
            errors.AddRange(ns.Validate("spec.announce.nodeSelector"));
        }

        if (spec.ServiceAllocation is { } sa)
        {
            for (var i = 0; i < sa.Namespaces.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(sa.Namespaces[i]))
                {
                    errors.Add($"spec.serviceAllocation.namespaces[{i}]: must not be empty");
                }
            }

            if (sa.NamespaceSelector is { } nss)
            {
                errors.AddRange(nss.Validate("spec.serviceAllocation.namespaceSelector"));
            }

            if (sa.ServiceSelector is { } ss)
            {
                errors.AddRange(ss.Validate("spec.serviceAllocation.serviceSelector"));
            }
        }

        return WithoutReserved(Merge(ranges), errors);
    }

    /// <summary>
    /// Reserved addresses (<see cref="ReservedAddresses"/>) are cut out of the pool: a pool of
    /// <c>0.0.0.0/0</c> never hands out <c>0.0.0.0</c>. A pool left with nothing is invalid.
    /// </summary>
    private static List<AddressRange> WithoutReserved(List<AddressRange> ranges, List<string> errors)
    {
        var touched = new List<ReservedBlock>();
        var rest = ranges.SelectMany(r => ReservedAddresses.Subtract(r, touched)).ToList();
        if (ranges.Count > 0 && rest.Count == 0)
        {
            errors.Add($"spec.addresses: every address is in a range that is never handed out: {string.Join(", ", touched)}");
        }

        return rest;
    }

    private static void CheckPrefix(string field, int value, IpFamily family, List<string> errors)
    {
        if (value < 1 || value > family.Bits())
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{field}: {value} is out of range 1-{family.Bits()} for {family}"));
        }
    }

    /// <summary>Ranges of one pool that overlap or touch are joined; that is not an error.</summary>
    private static List<AddressRange> Merge(List<AddressRange> ranges)
    {
        ranges.Sort((x, y) => x.First.CompareTo(y.First));
        var merged = new List<AddressRange>();
        foreach (var r in ranges)
        {
            if (merged.Count > 0)
            {
                var last = merged[^1];
                if (last.Family == r.Family && (r.First.Value <= last.Last.Value || r.First.Value - 1 == last.Last.Value))
                {
                    merged[^1] = new AddressRange(last.First, r.Last > last.Last ? r.Last : last.Last);
                    continue;
                }
            }

            merged.Add(r);
        }

        return merged;
    }

    [GeneratedRegex(@"^[^/:\s]{1,15}$")]
    private static partial Regex InterfaceName();
}
