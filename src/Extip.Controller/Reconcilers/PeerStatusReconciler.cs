using System.Globalization;
using Extip.Agent.Bgp;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;

namespace Extip.Controller.Reconcilers;

/// <summary>
/// BGPPeer status (issue 11: every object says how it is doing): Accepted when the spec passes
/// the rules the agents apply (the Secret aside: the controller may not read Secrets, the agents
/// report it), the nodes with an agent it selects, and the sessions those agents report in their
/// IPNode status. Written only when it changes.
/// </summary>
internal sealed class PeerStatusReconciler(IKubernetes client, ClusterView view, ControllerOptions options)
{
    public async Task SyncAsync(CancellationToken ct)
    {
        var agents = view.IpNodes.Items.ToDictionary(n => n.Metadata.Name, StringComparer.Ordinal);
        foreach (var peer in view.Peers.Items.ToList())
        {
            var name = peer.Metadata.Name;

            // The controller has no router ID of its own to offer; any non-zero one checks the rest.
            var (_, error) = PeerConfig.Build(peer, 1, _ => (null, null));
            var nodes = new List<string>();
            string? selectorError = null;
            foreach (var node in view.Nodes.Items.Where(n => agents.ContainsKey(n.Metadata.Name)).OrderBy(n => n.Metadata.Name, StringComparer.Ordinal))
            {
                var (selected, why) = PeerConfig.Selection(peer, (IReadOnlyDictionary<string, string>?)node.Metadata.Labels ?? new Dictionary<string, string>());
                selectorError ??= why;
                if (selected)
                {
                    nodes.Add(node.Metadata.Name);
                }
            }

            error ??= selectorError;
            var reports = nodes.SelectMany(n => (agents[n].Status?.Peers ?? []).Where(p => p.Name == name).Select(p => (Node: n, Peer: p))).ToList();
            var up = reports.Count(r => r.Peer.State == PeerStatus.Established);
            var trouble = reports.FirstOrDefault(r => r.Peer.State != PeerStatus.Established && r.Peer.Message is not null);
            var status = new BgpPeerStatusModel { Nodes = nodes, Sessions = reports.Count, SessionsUp = up };
            var ready = error is null && nodes.Count > 0 && up == nodes.Count;
            status.Conditions =
            [
                Condition("Accepted", error is null, error is null ? "Valid" : "Invalid", error ?? "the spec is valid", peer),
                Condition("Ready", ready, ready ? "SessionsUp" : error is not null ? "Invalid" : nodes.Count == 0 ? "NoNodes" : "SessionsDown",
                    error is not null
                        ? reports.Any(r => r.Peer.Message?.Contains("serving the last valid spec", StringComparison.Ordinal) == true)
                            ? string.Create(CultureInfo.InvariantCulture, $"{error}; the agents keep the last valid spec ({up} of {nodes.Count} sessions up)")
                            : error
                    : nodes.Count == 0 ? "no node with an agent is selected"
                    : string.Create(CultureInfo.InvariantCulture, $"{up} of {nodes.Count} sessions up{(trouble.Peer is { } t ? $"; node {trouble.Node}: {t.Message}" : string.Empty)}"),
                    peer),
            ];
            Conditions.KeepTransitions(status.Conditions, peer.Status?.Conditions);
            if (!Same(status, peer.Status))
            {
                var patch = ExtipJson.Serialize(new { status });
                await client.PatchAsync(ApiPath.Extip(BgpPeer.Plural, name, "status"), new V1Patch(patch, V1Patch.PatchType.MergePatch), ct);
            }
        }
    }

    private Condition Condition(string type, bool on, string reason, string message, BgpPeer peer) => new()
    {
        Type = type,
        Status = on ? "True" : "False",
        Reason = reason,
        Message = message,
        LastTransitionTime = options.Time.GetUtcNow().UtcDateTime,
        ObservedGeneration = peer.Metadata.Generation,
    };

    private static bool Same(BgpPeerStatusModel a, BgpPeerStatusModel? b) =>
        b is not null && a.Sessions == b.Sessions && a.SessionsUp == b.SessionsUp && a.Nodes.SequenceEqual(b.Nodes)
        && Conditions.Same(a.Conditions, b.Conditions);
}
