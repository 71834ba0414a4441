using System.Net;
using System.Threading.Channels;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Informers;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Extip.Controller.Reconcilers;

/// <summary>
/// Keeps the agents' read access to BGP passwords in the controller's namespace to the Secrets
/// BGPPeers name: the Role <c>extip-agent-secrets</c> grants <c>get</c> on each, by name, and
/// nothing else (the heartbeat key, <c>extip-peer-key</c>, is in the agents' fixed Role). The
/// manifests ship it without rules, so that re-applying them leaves the controller's alone; the
/// rules are compared with what they should be on every BGPPeer change and every minute.
/// All agents share one ServiceAccount, so a name any BGPPeer uses is readable by every agent
/// (RBAC cannot tell nodes apart on reads, and admission does not see reads).
/// </summary>
internal sealed partial class AgentSecretsReconciler(IKubernetes client, ClusterView view, ControllerOptions options, ILogger logger)
{
    private static readonly TimeSpan Recheck = TimeSpan.FromMinutes(1);

    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void OnPeer(WatchEventType type, BgpPeer peer, BgpPeer? old)
    {
        if (type == WatchEventType.Modified && old is not null && SecretOf(old) == SecretOf(peer))
        {
            return;
        }

        Request();
    }

    public void Request() => _signal.Writer.TryWrite(true);

    /// <summary>
    /// The password Secrets BGPPeers name in <paramref name="ns"/>, sorted, less the ones that are
    /// not passwords (<paramref name="notPasswords"/>: the controller's own, such as the webhook's
    /// key): whoever may write a BGPPeer must not be able to hand those to every agent.
    /// </summary>
    public static IReadOnlyList<string> Wanted(IEnumerable<BgpPeer> peers, string ns, IReadOnlySet<string> notPasswords) =>
        [.. peers.Select(p => p.Spec.PasswordSecret)
            .Where(r => r is not null && r.Namespace == ns && r.Name.Length > 0 && !notPasswords.Contains(r.Name))
            .Select(r => r!.Name)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)];

    public async Task RunAsync(CancellationToken ct)
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30));
        Request();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                // A change, or a minute without one: look either way (WaitToReadAsync takes
                // nothing, so a wait that loses the race loses no signal).
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    await Task.WhenAny(_signal.Reader.WaitToReadAsync(wait.Token).AsTask(), Task.Delay(Recheck, options.Time, wait.Token));
                    await wait.CancelAsync();
                }

                ct.ThrowIfCancellationRequested();
                _signal.Reader.TryRead(out _);
                await SyncAsync(ct);
                backoff.Reset();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Whatever failed (a timeout, a body it could not read), the names must keep following the BGPPeers: log and retry.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogRetry(logger, ExtipApi.AgentSecretsRole, e is HttpOperationException h ? $"{(int)h.Response.StatusCode} {h.Response.ReasonPhrase}: {h.Response.Content}" : e.Message);
                try
                {
                    await Task.Delay(backoff.Next(), options.Time, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Request();
            }
        }
    }

    /// <summary>Reads the Role and replaces its rules when they are not exactly the wanted one.</summary>
    public async Task SyncAsync(CancellationToken ct)
    {
        var ns = options.Namespace;
        var wanted = Wanted(view.Peers.Items, ns, NotPasswords());
        V1Role role;
        try
        {
            role = await client.GetAsync<V1Role>(RolePath(ns), ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // The manifests create it (the controller may not create Roles); without it the
            // agents read no Secret at all: no heartbeat key, no BGP password.
            LogMissing(logger, ns, ExtipApi.AgentSecretsRole);
            return;
        }

        if ((wanted.Count == 0 && role.Rules is null or []) || (role.Rules is [{ } only] && IsWanted(only, wanted)))
        {
            return;
        }

        var before = role.Rules is null or [] ? "none" : string.Join(", ", role.Rules.SelectMany(r => r.ResourceNames is { Count: > 0 } n ? n : ["*"]));

        // No names: no rule at all. An empty resourceNames would mean every Secret.
        role.Rules = wanted.Count == 0 ? [] : [new V1PolicyRule { ApiGroups = [""], Resources = ["secrets"], Verbs = ["get"], ResourceNames = [.. wanted] }];
        await client.ReplaceAsync(RolePath(ns), role, ct);
        LogUpdated(logger, ns, ExtipApi.AgentSecretsRole, wanted.Count == 0 ? "none" : string.Join(", ", wanted), before);
    }

    private HashSet<string> NotPasswords() => new(StringComparer.Ordinal)
    {
        ExtipApi.PeerKeySecret,
        options.Webhook?.SecretName ?? new Webhook.WebhookOptions().SecretName,
    };

    private static bool IsWanted(V1PolicyRule rule, IReadOnlyList<string> wanted) =>
        rule.ApiGroups is [""] && rule.Resources is ["secrets"] && rule.Verbs is ["get"]
        && rule.NonResourceURLs is null or []
        && rule.ResourceNames is { } names && names.Order(StringComparer.Ordinal).SequenceEqual(wanted, StringComparer.Ordinal);

    private static (string, string)? SecretOf(BgpPeer p) => p.Spec.PasswordSecret is { } r ? (r.Namespace, r.Name) : null;

    [LoggerMessage(EventId = 320, Level = LogLevel.Information, Message = "Role {Namespace}/{Role}: the agents may read the Secrets {Names} (were {Before})")]
    private static partial void LogUpdated(ILogger logger, string @namespace, string role, string names, string before);

    [LoggerMessage(EventId = 321, Level = LogLevel.Warning, Message = "Role {Namespace}/{Role} is missing: the agents can read neither the heartbeat key nor BGP passwords; apply deploy/base/agent.yaml")]
    private static partial void LogMissing(ILogger logger, string @namespace, string role);

    [LoggerMessage(EventId = 322, Level = LogLevel.Warning, Message = "Role {Role}: will retry: {Error}")]
    private static partial void LogRetry(ILogger logger, string role, string error);

    private static string RolePath(string ns) => ApiPath.Group("rbac.authorization.k8s.io/v1", "roles", ns, ExtipApi.AgentSecretsRole);
}
