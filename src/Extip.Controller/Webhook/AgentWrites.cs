using System.Collections.Concurrent;
using System.Net;
using Extip.Kubernetes.Admission;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;

namespace Extip.Controller.Webhook;

/// <summary>
/// Per-node authority for the agents (issue 12), as the NodeRestriction admission plugin gives
/// kubelets theirs: every agent shares one ServiceAccount, so RBAC alone lets any agent write any
/// node's Lease and IPNode (keep a dead node alive, or vouch for a node that has no agent). The
/// API server tells the webhook which pod's token a request carries (a bound token's
/// <c>authentication.kubernetes.io/pod-name</c> and <c>…/pod-uid</c>; from v1.30 also
/// <c>…/node-name</c>); the pod's <c>spec.nodeName</c> is the node, and that node's agent may
/// write only the Lease <c>extip-agent-NODE</c> (holding it as NODE) and the IPNode NODE.
/// </summary>
internal sealed class AgentWrites(IKubernetes client, string agentUser)
{
    public const string NodeNameKey = "authentication.kubernetes.io/node-name";
    public const string PodNameKey = "authentication.kubernetes.io/pod-name";
    public const string PodUidKey = "authentication.kubernetes.io/pod-uid";

    private const int MaxCached = 10_000;

    /// <summary>A pod's node, by the pod's uid: <c>spec.nodeName</c> cannot change once set.</summary>
    private readonly ConcurrentDictionary<string, string> _nodes = new(StringComparer.Ordinal);

    public async ValueTask<AdmissionVerdict> ReviewAsync(AdmissionRequest r, CancellationToken ct)
    {
        if (r.UserName != agentUser)
        {
            return AdmissionVerdict.Allow;
        }

        var node = r.UserExtra(NodeNameKey);
        if (string.IsNullOrEmpty(node))
        {
            var pod = r.UserExtra(PodNameKey);
            var uid = r.UserExtra(PodUidKey);
            if (string.IsNullOrEmpty(pod) || string.IsNullOrEmpty(uid))
            {
                return AdmissionVerdict.Deny($"{agentUser} must use a token bound to its pod (a projected serviceAccountToken volume, as deploy/base/agent.yaml mounts it): this request's token names no pod, so no node");
            }

            node = await NodeOfPodAsync(pod, uid, ct);
            if (node is null)
            {
                return AdmissionVerdict.Deny($"{agentUser}'s pod {pod} (uid {uid}) is not bound to a node, or no longer exists");
            }
        }

        return Judge(r, node);
    }

    /// <summary>What the agent on <paramref name="node"/> may write: its own Lease and IPNode. A pure function of the request.</summary>
    public static AdmissionVerdict Judge(AdmissionRequest r, string node)
    {
        switch (r.Kind)
        {
            case "Lease":
            {
                var own = ExtipApi.AgentLeasePrefix + node;
                if (r.Name != own)
                {
                    return AdmissionVerdict.Deny($"the extip agent on node \"{node}\" may write only its own Lease, \"{own}\", not \"{r.Name}\"");
                }

                var holder = r.Object?["spec"]?["holderIdentity"]?.GetValue<string>();
                return string.IsNullOrEmpty(holder) || holder == node
                    ? AdmissionVerdict.Allow
                    : AdmissionVerdict.Deny($"the extip agent on node \"{node}\" may hold its Lease only as itself: spec.holderIdentity \"{holder}\"");
            }

            case "IPNode":
                return r.Name == node
                    ? AdmissionVerdict.Allow
                    : AdmissionVerdict.Deny($"the extip agent on node \"{node}\" may write only its own IPNode, \"{node}\", not \"{r.Name}\"");
            default:
                return AdmissionVerdict.Deny($"the extip agent on node \"{node}\" may not write {r.Kind} objects");
        }
    }

    private async Task<string?> NodeOfPodAsync(string pod, string uid, CancellationToken ct)
    {
        if (_nodes.TryGetValue(uid, out var cached))
        {
            return cached;
        }

        // The pod lives in its ServiceAccount's namespace: system:serviceaccount:NAMESPACE:NAME.
        var ns = agentUser.Split(':') is [_, _, var n, _] ? n : string.Empty;
        try
        {
            var p = await client.GetAsync<PodPlacement>(ApiPath.Core("pods", ns, pod), ct);
            if (p.Metadata.Uid != uid || string.IsNullOrEmpty(p.Spec?.NodeName))
            {
                return null;
            }

            if (_nodes.Count >= MaxCached)
            {
                _nodes.Clear();
            }

            _nodes[uid] = p.Spec.NodeName;
            return p.Spec.NodeName;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }
}
