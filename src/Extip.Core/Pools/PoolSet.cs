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
    private PoolSet(IReadOnlyList<Pool> pools, IReadOnlyList<PoolProblem> problems, IReadOnlyDictionary<string, PoolVersion> serving)
    {
        Pools = pools;
        Problems = problems;
        Serving = serving;
        ByName = pools.ToDictionary(p => p.Name, StringComparer.Ordinal);
    }

    public static PoolSet Empty { get; } = new([], [], new Dictionary<string, PoolVersion>());

    /// <summary>Usable pools in the order automatic allocation tries them.</summary>
    public IReadOnlyList<Pool> Pools { get; }

    public IReadOnlyDictionary<string, Pool> ByName { get; }

    public IReadOnlyList<PoolProblem> Problems { get; }

    public static PoolSet Build(IEnumerable<IpPoolSpec> specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        return Build(specs.Select(s => new PoolEntry(new PoolVersion(s, 0), null)));
    }

    /// <summary>
    /// Builds the pools with the last-good rule (DESIGN.md, "Last good configuration"): a pool
    /// whose current spec is invalid, or newly overlaps a pool in service, keeps serving its last
    /// valid spec and says so; no address moves because of a bad edit. Pools whose spec did not
    /// change since it was last found valid are placed first, so an edit of an older pool into a
    /// younger one's addresses cannot take them away from it.
    /// </summary>
    public static PoolSet Build(IEnumerable<PoolEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var problems = new List<PoolProblem>();
        var candidates = new List<Candidate>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries.OrderBy(e => e.Current.Spec.CreatedAt ?? DateTimeOffset.MaxValue).ThenBy(e => e.Current.Spec.Name, StringComparer.Ordinal))
        {
            var spec = entry.Current.Spec;
            if (!seen.Add(spec.Name))
            {
                problems.Add(new(spec.Name, PoolCondition.Invalid, $"metadata.name: duplicate pool name \"{spec.Name}\"", true));
                continue;
            }

            var errors = new List<string>();
            var ranges = Validate(spec, errors);
            var fallback = LastValid(entry);
            if (errors.Count == 0)
            {
                var settled = entry.LastValid is { } lv && lv.Generation == entry.Current.Generation;
                candidates.Add(new(entry.Current, ranges, settled, fallback is { } f && f.Version.Generation != entry.Current.Generation ? f : null));
                continue;
            }

            if (fallback is { } last)
            {
                problems.Add(new(spec.Name, PoolCondition.Invalid, $"{string.Join("; ", errors)}; {ServingText(last.Version)}", false));
                candidates.Add(new(last.Version, last.Ranges, true, null));
            }
            else
            {
                problems.Add(new(spec.Name, PoolCondition.Invalid, string.Join("; ", errors), true));
            }
        }

        // Pools in service first, then new and edited ones; older first within each. Each pool is
        // checked against those already accepted.
        var accepted = new List<(AddressRange Range, string Pool)>();
        var settledPools = new HashSet<string>(StringComparer.Ordinal);
        var kept = new List<(PoolVersion Version, List<AddressRange> Ranges)>();
        foreach (var c in candidates.OrderBy(c => c.Settled ? 0 : 1))
        {
            var spec = c.Version.Spec;
            var clash = Clash(c.Ranges, accepted);
            if (clash is null)
            {
                accepted.AddRange(c.Ranges.Select(r => (r, spec.Name)));
                kept.Add((c.Version, c.Ranges));
                if (c.Settled)
                {
                    settledPools.Add(spec.Name);
                }

                continue;
            }

            var (mine, theirs) = clash.Value;
            var message = $"spec.addresses: {mine} overlaps {theirs.Range} of pool \"{theirs.Pool}\"";
            if (c.Fallback is { } last && Clash(last.Ranges, accepted) is null)
            {
                problems.Add(new(spec.Name, PoolCondition.Overlap, $"{message}; {ServingText(last.Version)}", false));
                accepted.AddRange(last.Ranges.Select(r => (r, spec.Name)));
                kept.Add((last.Version, last.Ranges));
                continue;
            }

            var inService = !c.Settled && settledPools.Contains(theirs.Pool);
            problems.Add(new(spec.Name, PoolCondition.Overlap,
                $"{message}; {(inService ? $"pool \"{theirs.Pool}\" serves them already, so this pool" : "this pool is younger and")} is not used", true));
            problems.Add(new(theirs.Pool, PoolCondition.Overlap,
                $"spec.addresses: {theirs.Range} overlaps {mine} of pool \"{spec.Name}\"; that pool {(inService ? "came later" : "is younger")} and is not used", false));
        }

        var ordered = kept
            .OrderBy(k => k.Version.Spec.ServiceAllocation is null ? 1 : 0)
            .ThenBy(k => k.Version.Spec.ServiceAllocation?.Priority ?? int.MaxValue)
            .ThenBy(k => k.Version.Spec.Name, StringComparer.Ordinal)
            .Select((k, i) => new Pool(k.Version.Spec, k.Ranges, i))
            .ToList();
        var serving = kept.ToDictionary(k => k.Version.Spec.Name, k => k.Version, StringComparer.Ordinal);
        return new PoolSet(ordered, problems, serving);
    }

    /// <summary>Which version of each usable pool is in service: its current spec, or the last valid one.</summary>
    public IReadOnlyDictionary<string, PoolVersion> Serving { get; }

    /// <summary>Validation errors of one spec, each naming the field and the value; empty when valid.</summary>
    public static IReadOnlyList<string> Check(IpPoolSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = new List<string>();
        Validate(spec, errors);
        return errors;
    }

    /// <summary>
    /// Errors of a spec judged beside the other pools, as admission judges a write: its own
    /// errors, or else its first overlap with another pool that is valid. Empty when it may go in.
    /// </summary>
    public static IReadOnlyList<string> CheckAgainst(IpPoolSpec spec, IEnumerable<IpPoolSpec> others)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(others);
        var errors = new List<string>();
        var ranges = Validate(spec, errors);
        if (errors.Count > 0)
        {
            return errors;
        }

        var accepted = new List<(AddressRange Range, string Pool)>();
        foreach (var other in others.Where(o => o.Name != spec.Name))
        {
            var theirs = new List<string>();
            var r = Validate(other, theirs);
            if (theirs.Count == 0)
            {
                accepted.AddRange(r.Select(x => (x, other.Name)));
            }
        }

        if (Clash(ranges, accepted) is { } clash)
        {
            errors.Add($"spec.addresses: {clash.Mine} overlaps {clash.Theirs.Range} of pool \"{clash.Theirs.Pool}\"");
        }

        return errors;
    }

    private static string ServingText(PoolVersion version) =>
        string.Create(CultureInfo.InvariantCulture, $"serving the last valid spec (generation {version.Generation})");

    private static (PoolVersion Version, List<AddressRange> Ranges)? LastValid(PoolEntry entry)
    {
        if (entry.LastValid is not { } lv)
        {
            return null;
        }

        var errors = new List<string>();
        var ranges = Validate(lv.Spec, errors);
        return errors.Count == 0 ? (lv, ranges) : null;
    }

    private static (AddressRange Mine, (AddressRange Range, string Pool) Theirs)? Clash(List<AddressRange> ranges, List<(AddressRange Range, string Pool)> accepted)
    {
        foreach (var r in ranges)
        {
            foreach (var a in accepted)
            {
                if (a.Range.Overlaps(r))
                {
                    return (r, a);
                }
            }
        }

        return null;
    }

    private sealed record Candidate(PoolVersion Version, List<AddressRange> Ranges, bool Settled, (PoolVersion Version, List<AddressRange> Ranges)? Fallback);

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
        errors.AddRange(spec.Errors);
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
