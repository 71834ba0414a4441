using System.Collections.Concurrent;
using System.Net;
using Extip.Kubernetes.Client;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Extip.Kubernetes.Informers;

/// <summary>
/// Keeps a local copy of one resource: list, then watch from the list's resourceVersion; a
/// watch that ends is resumed from the last version seen; 410 Expired (or any error) means a
/// relist, after a rate-limited backoff. <see cref="ReadyAsync"/> completes after the first full
/// list. Every change is reported with the previous state, so handlers see what moved.
/// </summary>
public sealed partial class Informer<T>(ResourceOps<T> ops, ILogger logger, TimeProvider? time = null)
    where T : IKubernetesObject<V1ObjectMeta>
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    private readonly ConcurrentDictionary<string, T> _cache = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Backoff _backoff = new();
    private TimeSpan _maxBackoff = TimeSpan.FromSeconds(30);
    private readonly Backoff _notServedBackoff = new(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));

    /// <summary>Type, new object, previous object (null when added).</summary>
    public event Action<WatchEventType, T, T?>? Changed;

    public string Name => ops.Name;

    public IEnumerable<T> Items => _cache.Values;

    public int Count => _cache.Count;

    public bool IsReady => _ready.Task.IsCompleted;

    /// <summary>Set when the server does not serve the resource at all (404 on list).</summary>
    public bool NotServed { get; private set; }

    /// <summary>
    /// A resource the owner cannot work without (the agent's IPClaims): while the server does not
    /// serve it (its CRD not installed yet), the informer is not ready and keeps asking, instead
    /// of going on without it.
    /// </summary>
    public bool Required { get; init; }

    /// <summary>
    /// The longest wait before trying again after a failure (30 s by default, as client-go's
    /// reflectors). An owner that cannot act until it has listed again (the agent after a fence)
    /// sets it shorter: after a long outage it must not wait half a minute more once the server is back.
    /// </summary>
    public TimeSpan MaxBackoff
    {
        get => _maxBackoff;
        init
        {
            _maxBackoff = value;
            _backoff = new Backoff(max: value);
        }
    }

    public long Relists => Interlocked.Read(ref _relists);

    private long _relists;
    private volatile bool _relistRequested;
    private CancellationTokenSource? _watching;

    /// <summary>Raised after each list has replaced the cache (whether or not anything changed).</summary>
    public event Action? Listed;

    /// <summary>
    /// Drops the current watch and lists again: for an owner that lost the API server and must not
    /// act on what it knew before (a watch resumed from its last version gives no sign of having
    /// caught up; a list is a consistent snapshot). <see cref="Relists"/> counts up once done.
    /// </summary>
    public void RequestRelist()
    {
        _relistRequested = true;
        try
        {
            _watching?.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public T? Get(string key) => _cache.GetValueOrDefault(key);

    public Task ReadyAsync(CancellationToken ct) => _ready.Task.WaitAsync(ct);

    public async Task RunAsync(CancellationToken ct)
    {
        string? rv = null;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (rv is null || _relistRequested)
                {
                    // A list that fails leaves rv as it was: the request stays until one succeeds.
                    rv = null;
                    _relistRequested = false;
                    rv = await RelistAsync(ct);
                    _ready.TrySetResult();
                    Listed?.Invoke();
                }

                using var watching = CancellationTokenSource.CreateLinkedTokenSource(ct);
                _watching = watching;
                if (_relistRequested)
                {
                    continue;
                }

                await foreach (var (type, obj) in ops.Watch(rv, watching.Token))
                {
                    if (type == WatchEventType.Error)
                    {
                        throw new WatchExpiredException();
                    }

                    rv = obj.Metadata?.ResourceVersion ?? rv;
                    if (type != WatchEventType.Bookmark)
                    {
                        Apply(type, obj);
                    }

                    _backoff.Reset();
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException) when (_relistRequested)
            {
                // RequestRelist stopped the watch: list at once.
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound && rv is null)
            {
                if (!NotServed)
                {
                    NotServed = true;
                    if (Required)
                    {
                        LogWaitingForResource(logger, ops.Name);
                    }
                    else
                    {
                        LogNotServed(logger, ops.Name);
                    }
                }

                if (!Required)
                {
                    _ready.TrySetResult();
                }

                // Ask again soon: CRDs and the workloads that use them are often applied together,
                // and the resource appears seconds later.
                await DelayAsync(_notServedBackoff.Next(), ct);
            }
            catch (Exception e) when (rv is not null && e is HttpRequestException or IOException)
            {
                // The stream broke (server restart, proxy, dropped connection): watch again from
                // the last version; if the server has forgotten it, it says 410 and we relist.
                LogWatchBroken(logger, ops.Name, e.Message);
                await DelayAsync(_backoff.Next(), ct);
            }
#pragma warning disable CA1031 // An informer must outlive any failure: it relists after a backoff.
            catch (Exception e)
#pragma warning restore CA1031
            {
                // 410 or a broken stream: relist. The cache is replaced with what the list says.
                LogWatchFailed(logger, ops.Name, e.GetType().Name, e.Message);
                rv = null;
                await DelayAsync(_backoff.Next(), ct);
            }
        }
    }

    private async Task<string> RelistAsync(CancellationToken ct)
    {
        var (items, rv) = await ops.ListAllAsync(ct);
        Interlocked.Increment(ref _relists);
        NotServed = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            seen.Add(Resources.KeyOf(item));
            var old = _cache.GetValueOrDefault(Resources.KeyOf(item));
            if (old is null || old.Metadata.ResourceVersion != item.Metadata.ResourceVersion)
            {
                Apply(old is null ? WatchEventType.Added : WatchEventType.Modified, item);
            }
        }

        foreach (var gone in _cache.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            Apply(WatchEventType.Deleted, _cache[gone]);
        }

        return rv;
    }

    private void Apply(WatchEventType type, T obj)
    {
        // Field ownership is the largest part of most objects and nothing here reads it: as
        // client-go's informers can, drop it before caching (a third of the controller's memory).
        obj.Metadata.ManagedFields = null;
        var key = Resources.KeyOf(obj);
        T? old;
        if (type == WatchEventType.Deleted)
        {
            _cache.TryRemove(key, out old);
        }
        else
        {
            old = _cache.GetValueOrDefault(key);
            _cache[key] = obj;
            if (old is null)
            {
                type = WatchEventType.Added;
            }
        }

        Changed?.Invoke(type, obj, old);
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, _time, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "{Resource}: watch broke ({Error}); watching again from the last version")]
    private static partial void LogWatchBroken(ILogger logger, string resource, string error);

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "{Resource}: the API server does not serve this resource; going on without it, and asking again")]
    private static partial void LogNotServed(ILogger logger, string resource);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "{Resource}: the API server does not serve this resource (its CRD is not installed yet?); not ready until it does, asking again")]
    private static partial void LogWaitingForResource(ILogger logger, string resource);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "{Resource}: watch ended ({Error}: {Message}); relisting")]
    private static partial void LogWatchFailed(ILogger logger, string resource, string error, string message);
}

/// <summary>The server said the watch's resourceVersion is too old (or sent another ERROR event).</summary>
public sealed class WatchExpiredException : Exception
{
    public WatchExpiredException()
        : base("watch expired (410) or failed")
    {
    }

    public WatchExpiredException(string message)
        : base(message)
    {
    }

    public WatchExpiredException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
