using Extip.Kubernetes.Models;

namespace Extip.Agent;

/// <summary>
/// Make-before-break for the addresses a live agent gives up. An address whose single-owner claim
/// moved to other nodes stays on this node, announced, until every node the claim names now says
/// (in its IPNode status) that it holds it, or <c>timeout</c> has passed; the address then
/// stays <c>withdrawDelay</c> more, no longer announced (its BGP route withdrawn; in L2 the node's
/// packet filter stops answering ARP for it), so that what the network sent before it switched
/// still arrives, and the connections the new holder chains back here (<see cref="Chaining"/>)
/// can finish. An address whose claim is gone, or names no node, or changed,
/// goes at once: nobody takes it over. Time comes in as timestamps of the injected clock.
/// <para>
/// The address (and its BGP route) stays <c>overlap</c> after the new holders said they hold it:
/// their status can be written before their announcements took effect (a BGP route handed to the
/// socket, not yet installed by the router: in the lab BIRD deleted the old route 8 ms before it
/// added the new one; gratuitous ARP sent from a task of its own, after the status on a busy
/// machine: requests failed for up to 30 ms after an L2 move).
/// </para>
/// </summary>
public sealed class Handover(TimeProvider time, TimeSpan timeout, TimeSpan withdrawDelay, TimeSpan overlap = default)
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private volatile int _count;

    /// <summary>Addresses being handed over or drained (read from any thread).</summary>
    public int Count => _count;

    /// <summary>
    /// One pass: of the addresses held after the last pass (<paramref name="previous"/>) that this
    /// node's claims no longer give it (not in <paramref name="wanted"/>), those to keep for now.
    /// <paramref name="canSilenceL2"/>: the node's packet filter can stop ARP for a kept L2 address
    /// (false: its rules failed last time); without that, a taken L2 address goes at once, since
    /// kept it would answer ARP and pull the neighbours back from the new holder.
    /// </summary>
    public HandoverPass Pass(IEnumerable<AddressState> previous, IReadOnlySet<string> wanted, Func<string, IpClaim?> claimOf, Func<string, DesiredAddress, bool> heldBy, long now, bool canSilenceL2 = true)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(wanted);
        ArgumentNullException.ThrowIfNull(claimOf);
        ArgumentNullException.ThrowIfNull(heldBy);
        var kept = new List<(DesiredAddress Want, IpClaim Claim)>();
        var withdrawn = new HashSet<string>(StringComparer.Ordinal);
        var going = new HashSet<string>(StringComparer.Ordinal);
        var takenOver = new HashSet<string>(StringComparer.Ordinal);
        TimeSpan? recheck = null;
        void Recheck(TimeSpan left) => recheck = recheck is { } r && r < left ? r : left;

        foreach (var s in previous.Where(s => s.State == AddressState.Held && !wanted.Contains(s.Want.Claim)))
        {
            var name = s.Want.Claim;
            if (timeout <= TimeSpan.Zero || claimOf(name) is not { } claim || !SameAddress(claim.Spec, s.Want) || claim.Spec.Nodes.Count == 0)
            {
                continue;
            }

            going.Add(name);
            if (!_entries.TryGetValue(name, out var e))
            {
                _entries[name] = e = new Entry(now);
            }

            var age = time.GetElapsedTime(e.Since, now);
            var taken = claim.Spec.Nodes.All(n => heldBy(n, s.Want));
            if (!taken && age < timeout)
            {
                kept.Add((s.Want, claim));
                Recheck(timeout - age);
                continue;
            }

            // Taken: it stays for the overlap. Out of time: nobody took it, no reason to wait more.
            e.TakenAt ??= taken ? now : null;
            if (e.TakenAt is not null)
            {
                takenOver.Add(name);
            }

            if (e.TakenAt is { } takenAt && time.GetElapsedTime(takenAt, now) is var held && held < overlap)
            {
                kept.Add((s.Want, claim));
                Recheck(overlap - held);
                continue;
            }

            // A BGP route is withdrawn first in every case; an L2 address only waits for its
            // connections when someone took it over (else nobody would answer for it meanwhile)
            // and ARP for it can be silenced here.
            if (withdrawDelay > TimeSpan.Zero && (s.Want.Mode == Extip.Core.Pools.AnnounceMode.BGP || (e.TakenAt is not null && canSilenceL2)))
            {
                e.WithdrawnAt ??= now;
                var since = time.GetElapsedTime(e.WithdrawnAt.Value, now);
                if (since < withdrawDelay)
                {
                    kept.Add((s.Want, claim));
                    withdrawn.Add(name);
                    Recheck(withdrawDelay - since);
                    continue;
                }
            }

            // Handed over (or out of time): it goes in this pass.
            going.Remove(name);
            TimedOut += taken ? 0 : 1;
        }

        foreach (var name in _entries.Keys.Where(k => !going.Contains(k)).ToList())
        {
            _entries.Remove(name);
        }

        _count = _entries.Count;
        return new HandoverPass(kept, withdrawn, recheck) { Taken = takenOver };
    }

    /// <summary>Handovers given up because the new holders did not say they held the address in time.</summary>
    public long TimedOut { get; private set; }

    private static bool SameAddress(IpClaimSpecModel spec, DesiredAddress want) =>
        spec.Interface == want.Interface && spec.PrefixLength == want.PrefixLength && spec.AnnounceMode == want.Mode
        && System.Net.IPAddress.TryParse(spec.Address, out var ip) && ip.Equals(want.Address);

    private sealed class Entry(long since)
    {
        public long Since { get; } = since;

        public long? TakenAt { get; set; }

        public long? WithdrawnAt { get; set; }
    }
}

/// <summary>
/// What one handover pass keeps: the addresses with their claims, those of them no longer
/// announced (a BGP route withdrawn; an L2 address no longer answered for), and when to look again.
/// </summary>
public sealed record HandoverPass(IReadOnlyList<(DesiredAddress Want, IpClaim Claim)> Kept, IReadOnlySet<string> Withdrawn, TimeSpan? Recheck)
{
    /// <summary>The kept claims whose new nodes hold their address: this node only serves the connections it has.</summary>
    public IReadOnlySet<string> Taken { get; init; } = new HashSet<string>(StringComparer.Ordinal);
}
