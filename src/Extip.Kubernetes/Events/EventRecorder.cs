using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using Extip.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Extip.Kubernetes.Events;

/// <summary>
/// Writes core/v1 Events where users look (<c>kubectl describe</c>, <c>kubectl get events</c>).
/// The same reason and message on the same object within ten minutes bumps the count of the
/// existing Event instead of adding one, as client-go's recorder does. Writing is in the
/// background and never blocks a reconcile; a failed write is logged and dropped.
/// </summary>
public sealed partial class EventRecorder(IKubernetes client, string component, ILogger logger, TimeProvider? time = null, int remember = 4096) : IEventSink
{
    /// <summary>How many recent events it remembers to count repeats (as client-go's correlator, 4096 by default).</summary>
    private readonly int _remember = remember > 0 ? remember : throw new ArgumentOutOfRangeException(nameof(remember), remember, "must be positive");

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    private static readonly TimeSpan Window = TimeSpan.FromMinutes(10);
    private readonly Channel<(V1ObjectReference Target, string Type, string Reason, string Message)> _pending = Channel.CreateUnbounded<(V1ObjectReference, string, string, string)>();
    private readonly ConcurrentDictionary<string, (string Name, int Count, DateTime First, DateTime Last)> _recent = new(StringComparer.Ordinal);

    public long Written { get; private set; }

    /// <summary>Events remembered for counting repeats: at most the limit it was made with.</summary>
    public int Remembered => _recent.Count;

    public void Normal(V1ObjectReference target, string reason, string message) => _pending.Writer.TryWrite((target, "Normal", reason, message));

    public void Warning(V1ObjectReference target, string reason, string message) => _pending.Writer.TryWrite((target, "Warning", reason, message));

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var (target, type, reason, message) in _pending.Reader.ReadAllAsync(ct))
            {
                try
                {
                    await WriteAsync(target, type, reason, message, ct);
                    Written++;
                }
                catch (Exception e) when (e is k8s.Autorest.HttpOperationException or HttpRequestException or IOException)
                {
                    LogDropped(logger, reason, target.Name, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task WriteAsync(V1ObjectReference target, string type, string reason, string message, CancellationToken ct)
    {
        var ns = string.IsNullOrEmpty(target.NamespaceProperty) ? "default" : target.NamespaceProperty;
        var key = $"{target.Uid}/{reason}/{message}";
        var now = _time.GetUtcNow().UtcDateTime;
        if (_recent.TryGetValue(key, out var seen) && now - seen.Last < Window)
        {
            var count = seen.Count + 1;
            _recent[key] = (seen.Name, count, seen.First, now);
            var patch = $$"""{"count":{{count}},"lastTimestamp":"{{now.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}}"}""";
            try
            {
                await client.PatchAsync(ApiPath.Core("events", ns, seen.Name), new V1Patch(patch, V1Patch.PatchType.MergePatch), ct);
                return;
            }
            catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                _recent.TryRemove(key, out _);
            }
        }

        var name = $"{target.Name}.{now.Ticks:x}";
        await client.CreateAsync(ApiPath.Core("events", ns), new Corev1Event
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
            InvolvedObject = target,
            Type = type,
            Reason = reason,
            Message = message,
            Source = new V1EventSource { Component = component },
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
            ReportingComponent = component,
        }, ct);
        Forget(now);
        _recent[key] = (name, 1, now, now);
    }

    /// <summary>
    /// Makes room for one more: events last seen a window ago are forgotten, and if that is not
    /// enough, the oldest half. Without it every distinct event a daemon ever wrote stayed in
    /// memory for the life of the process.
    /// </summary>
    private void Forget(DateTime now)
    {
        if (_recent.Count < _remember)
        {
            return;
        }

        foreach (var (key, seen) in _recent)
        {
            if (now - seen.Last >= Window)
            {
                _recent.TryRemove(key, out _);
            }
        }

        if (_recent.Count >= _remember)
        {
            foreach (var key in _recent.OrderBy(e => e.Value.Last).Take(_recent.Count - (_remember / 2)).Select(e => e.Key).ToList())
            {
                _recent.TryRemove(key, out _);
            }
        }
    }

    public static V1ObjectReference RefTo(IKubernetesObject<V1ObjectMeta> o) => new()
    {
        ApiVersion = o.ApiVersion,
        Kind = o.Kind,
        Name = o.Metadata.Name,
        NamespaceProperty = o.Metadata.NamespaceProperty,
        Uid = o.Metadata.Uid,
        ResourceVersion = o.Metadata.ResourceVersion,
    };

    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "event {Reason} on {Name} not written: {Error}")]
    private static partial void LogDropped(ILogger logger, string reason, string name, string error);
}
