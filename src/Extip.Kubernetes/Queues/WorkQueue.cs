using System.Threading.Channels;

namespace Extip.Kubernetes.Queues;

/// <summary>
/// A de-duplicating work queue as client-go's: a key queued twice is processed once; a key being
/// processed is not handed to a second worker, and if it is added meanwhile it is queued again
/// when the first worker is done. Failed keys come back after a per-key exponential backoff.
/// </summary>
public sealed class WorkQueue<TKey>
    where TKey : notnull
{
    private readonly Lock _gate = new();
    private readonly HashSet<TKey> _queued = [];
    private readonly HashSet<TKey> _processing = [];
    private readonly HashSet<TKey> _dirtyWhileProcessing = [];
    private readonly Dictionary<TKey, int> _failures = [];
    private readonly Channel<TKey> _channel = Channel.CreateUnbounded<TKey>();
    private readonly TimeSpan _baseDelay;
    private readonly TimeSpan _maxDelay;

    private readonly TimeProvider _time;

    public WorkQueue(TimeSpan? baseDelay = null, TimeSpan? maxDelay = null, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _baseDelay = baseDelay ?? TimeSpan.FromMilliseconds(50);
        _maxDelay = maxDelay ?? TimeSpan.FromSeconds(30);
    }

    public int Length
    {
        get
        {
            lock (_gate)
            {
                return _queued.Count;
            }
        }
    }

    public void Add(TKey key)
    {
        lock (_gate)
        {
            if (_processing.Contains(key))
            {
                _dirtyWhileProcessing.Add(key);
                return;
            }

            if (!_queued.Add(key))
            {
                return;
            }
        }

        _channel.Writer.TryWrite(key);
    }

    /// <summary>Adds the key again after its backoff: 50 ms doubling per failure, up to 30 s.</summary>
    public void AddRateLimited(TKey key)
    {
        int failures;
        lock (_gate)
        {
            failures = _failures[key] = _failures.GetValueOrDefault(key) + 1;
        }

        var delay = TimeSpan.FromMilliseconds(Math.Min(_maxDelay.TotalMilliseconds, _baseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 20))));
        _ = Task.Delay(delay, _time).ContinueWith(_ => Add(key), TaskScheduler.Default);
    }

    /// <summary>The key succeeded: its backoff starts over.</summary>
    public void Forget(TKey key)
    {
        lock (_gate)
        {
            _failures.Remove(key);
        }
    }

    public async ValueTask<TKey> TakeAsync(CancellationToken ct)
    {
        while (true)
        {
            var key = await _channel.Reader.ReadAsync(ct);
            lock (_gate)
            {
                if (!_queued.Remove(key))
                {
                    continue;
                }

                _processing.Add(key);
                return key;
            }
        }
    }

    public void Done(TKey key)
    {
        bool again;
        lock (_gate)
        {
            _processing.Remove(key);
            again = _dirtyWhileProcessing.Remove(key);
        }

        if (again)
        {
            Add(key);
        }
    }
}
