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
/// Labels each IPNode <c>extip.io/agent</c> Live or Gone after the set of live agents the last
/// claim pass scheduled on, so that <c>kubectl get ipnodes</c> shows a crashed agent's node as
/// gone when its claims move, instead of only the status that agent last wrote (a dead agent
/// cannot write that it is dead). One writer per fact still holds: the agent alone writes the
/// IPNode's status subresource; this writes one label on the main resource with a merge patch of
/// that key alone, so the two never touch the same field and never conflict.
/// </summary>
internal sealed partial class AgentLabelReconciler(IKubernetes client, ClusterView view, ControllerOptions options, ILogger logger)
{
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    // Null until the session's first claim pass: labelling before it would say Gone of every
    // node, as the session has not judged any Lease yet.
    private volatile IReadOnlySet<string>? _live;

    /// <summary>The live agents a claim pass just scheduled on: the labels follow them.</summary>
    public void Observe(IReadOnlySet<string> live)
    {
        var before = _live;
        _live = live;
        if (before is null || !before.SetEquals(live))
        {
            Request();
        }
    }

    /// <summary>An IPNode that appears (an agent's first status) or lost or changed its label is labelled again.</summary>
    public void OnIpNode(WatchEventType type, IpNode node, IpNode? old)
    {
        if (type != WatchEventType.Deleted && Wanted(node.Metadata.Name) is { } want && node.Metadata.Labels.Value(ExtipApi.AgentLabel) != want)
        {
            Request();
        }
    }

    private void Request() => _signal.Writer.TryWrite(true);

    private string? Wanted(string node) => _live is not { } live ? null : live.Contains(node) ? ExtipApi.AgentLive : ExtipApi.AgentGone;

    public async Task RunAsync(CancellationToken ct)
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10));
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _signal.Reader.ReadAsync(ct);
                await SyncAsync(ct);
                backoff.Reset();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException)
            {
                LogRetry(logger, e.Message);
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

    /// <summary>Patches every IPNode whose label differs from the last claim pass's judgment.</summary>
    public async Task SyncAsync(CancellationToken ct)
    {
        var stale = view.IpNodes.Items
            .Select(n => (n.Metadata.Name, Have: n.Metadata.Labels.Value(ExtipApi.AgentLabel), Want: Wanted(n.Metadata.Name)))
            .Where(n => n.Want is not null && n.Have != n.Want)
            .ToList();
        await Parallel.ForEachAsync(stale, new ParallelOptions { MaxDegreeOfParallelism = options.Workers, CancellationToken = ct }, async (n, token) =>
        {
            var patch = ExtipJson.Serialize(new { metadata = new { labels = new Dictionary<string, string> { [ExtipApi.AgentLabel] = n.Want! } } });
            try
            {
                await client.PatchAsync(ApiPath.Extip(IpNode.Plural, n.Name), new V1Patch(patch, V1Patch.PatchType.MergePatch), token);
                LogLabelled(logger, n.Name, n.Want!, n.Have ?? "unlabelled");
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                // Deleted since the informer saw it: nothing to label.
            }
        });
    }

    [LoggerMessage(EventId = 310, Level = LogLevel.Information, Message = "IPNode {Node}: agent {State} (was {Was})")]
    private static partial void LogLabelled(ILogger logger, string node, string state, string was);

    [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "IPNode agent labels: will retry: {Error}")]
    private static partial void LogRetry(ILogger logger, string error);
}
