using k8s.Models;

namespace Extip.Controller;

/// <summary>
/// What Kubernetes itself says about a node, beside its agent's Lease: the
/// <c>node.kubernetes.io/out-of-service</c> taint (an operator's word that the node is shut down)
/// takes it out at once; a Ready condition that has been False or Unknown for longer than the
/// grace takes it out too. How long it has been so is timed by this controller's own clock, from
/// the first time it saw it, never from the Node's timestamps (another machine's clock). A
/// cordon alone takes nothing out, as in Kubernetes' service controller since KEP-3458.
/// </summary>
public sealed class NodeSignals(TimeProvider time, TimeSpan notReadyGrace)
{
    public const string OutOfServiceTaint = "node.kubernetes.io/out-of-service";

    private readonly Dictionary<string, long> _notReadySince = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>
    /// The nodes (of <paramref name="names"/>) that must hold nothing now, why, and how long until
    /// a node not ready yet within its grace runs out of it.
    /// </summary>
    public (Dictionary<string, string> Out, TimeSpan? Next) Judge(IEnumerable<string> names, Func<string, V1Node?> node)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(node);
        var now = time.GetTimestamp();
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        TimeSpan? next = null;
        lock (_gate)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var name in names)
            {
                seen.Add(name);
                var n = node(name);
                if (n?.Spec?.Taints?.Any(t => t.Key == OutOfServiceTaint) == true)
                {
                    result[name] = $"tainted {OutOfServiceTaint}";
                }

                var ready = n?.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready")?.Status;
                if (n is null || ready is null || ready == "True" || notReadyGrace <= TimeSpan.Zero)
                {
                    _notReadySince.Remove(name);
                    continue;
                }

                if (!_notReadySince.TryGetValue(name, out var since))
                {
                    _notReadySince[name] = since = now;
                }

                var left = notReadyGrace - time.GetElapsedTime(since, now);
                if (left <= TimeSpan.Zero)
                {
                    result.TryAdd(name, $"Ready has been {ready} for more than {notReadyGrace.TotalSeconds:0.###} s");
                }
                else
                {
                    next = next is null || left < next ? left : next;
                }
            }

            // Only a Node that is gone is forgotten: one whose agent merely went quiet keeps its
            // timer, so an agent that flaps does not buy a NotReady node a new grace each time.
            foreach (var gone in _notReadySince.Keys.Where(k => !seen.Contains(k) && node(k) is null).ToList())
            {
                _notReadySince.Remove(gone);
            }
        }

        return (result, next);
    }
}
