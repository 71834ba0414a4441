using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Extip.Netlink;

namespace Extip.Lab;

/// <summary>One request of a probe: when it started (ms since the probe began), whether it was answered, and by which node.</summary>
public readonly record struct ProbeSample(double AtMs, bool Ok, string? Node);

/// <summary>What a probe saw so far.</summary>
public sealed record ProbeResult(long Sent, long Succeeded, long Failed, TimeSpan LongestGap, IReadOnlyDictionary<string, long> Answers, IReadOnlyList<ProbeSample> Samples)
{
    /// <summary>
    /// The longest time without a successful request: from the start of one answered request to
    /// the start of the next answered one (so a stream that never stops answering has a gap of
    /// about the interval).
    /// </summary>
    public static TimeSpan Gap(IEnumerable<ProbeSample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        double? last = null;
        var longest = 0.0;
        foreach (var s in samples.Where(s => s.Ok).OrderBy(s => s.AtMs))
        {
            if (last is { } l)
            {
                longest = Math.Max(longest, s.AtMs - l);
            }

            last = s.AtMs;
        }

        return TimeSpan.FromMilliseconds(longest);
    }

    /// <summary>
    /// How long some requests failed: from the start of the first failed request to the start of
    /// the last one, plus one <paramref name="interval"/> (zero when none failed). With ECMP the
    /// other nodes keep answering, so this, not <see cref="Gap"/>, is the outage that the clients
    /// of a dead node see.
    /// </summary>
    public static TimeSpan FailureWindow(IEnumerable<ProbeSample> samples, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var failed = samples.Where(s => !s.Ok).Select(s => s.AtMs).ToList();
        return failed.Count == 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(failed.Max() - failed.Min()) + interval;
    }

    /// <summary>The samples of requests started at or after <paramref name="fromMs"/>.</summary>
    public IReadOnlyList<ProbeSample> Since(double fromMs) => [.. Samples.Where(s => s.AtMs >= fromMs)];
}

/// <summary>
/// A client's request stream to a Service address, from inside a namespace (the lab's client):
/// a new TCP connection every <see cref="Interval"/>, each answered by one node's responder or
/// failing after <see cref="Timeout"/>. Requests overlap, so a dead path shows as a gap, not a stall.
/// </summary>
public sealed class Prober(string netns, IPAddress address, int port)
{
    public TimeSpan Interval { get; init; } = TimeSpan.FromMilliseconds(10);

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    private readonly ConcurrentQueue<ProbeSample> _samples = new();
    private readonly ConcurrentDictionary<long, double> _inFlight = new();
    private long _ids;
    private readonly Stopwatch _clock = new();
    private long _sent;

    /// <summary>Milliseconds since the probe began, on the clock of its samples.</summary>
    public double NowMs => _clock.Elapsed.TotalMilliseconds;

    /// <summary>
    /// When the oldest request still waiting for its answer started (ms), or now when none waits:
    /// every sample before it is final, so a judgement over them cannot be undone by a request
    /// that fails later.
    /// </summary>
    public double SettledBeforeMs
    {
        get
        {
            var now = NowMs;
            var oldest = _inFlight.Values.DefaultIfEmpty(now).Min();
            return Math.Min(oldest, now);
        }
    }

    /// <summary>What the probe has seen so far (while it runs, too).</summary>
    public ProbeResult Snapshot() => Result(Interlocked.Read(ref _sent), _samples);

    /// <summary>Probes for <paramref name="duration"/> (or until cancelled); calls <paramref name="progress"/> about every <paramref name="every"/>.</summary>
    public async Task<ProbeResult> RunAsync(TimeSpan duration, Action<ProbeResult>? progress = null, TimeSpan? every = null, CancellationToken ct = default)
    {
        using var sockets = new SocketFactory(netns, address.AddressFamily);
        var samples = _samples;
        var pending = new List<Task>();
        var clock = _clock;
        clock.Start();
        var next = TimeSpan.Zero;
        var nextReport = every ?? TimeSpan.FromMilliseconds(250);
        while (clock.Elapsed < duration && !ct.IsCancellationRequested)
        {
            // Behind schedule (a busy machine): the slots missed by more than a few intervals
            // are skipped, not sent in a burst, so the loop never falls further behind.
            if (clock.Elapsed - next > Interval * 5)
            {
                next = clock.Elapsed;
            }

            while (next <= clock.Elapsed && next < duration && !ct.IsCancellationRequested)
            {
                var at = clock.Elapsed.TotalMilliseconds;
                Interlocked.Increment(ref _sent);
                pending.Add(AskAsync(sockets, at, samples));
                next += Interval;
            }

            if (progress is not null && clock.Elapsed >= nextReport)
            {
                progress(Snapshot());
                nextReport += every ?? TimeSpan.FromMilliseconds(250);
            }

            pending.RemoveAll(t => t.IsCompleted);
            var wait = next - clock.Elapsed;
            if (wait <= TimeSpan.Zero)
            {
                await Task.Yield();
            }
            else
            {
                try
                {
                    // Never less than a millisecond: a shorter delay completes at once and the loop would spin.
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(wait.TotalMilliseconds))), ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        var result = Snapshot();
        progress?.Invoke(result);
        return result;
    }

    private async Task AskAsync(SocketFactory sockets, double at, ConcurrentQueue<ProbeSample> samples)
    {
        var id = Interlocked.Increment(ref _ids);
        _inFlight[id] = at;
        try
        {
            var node = await Responder.AskAsync(await sockets.NextAsync().ConfigureAwait(false), address, port, Timeout).ConfigureAwait(false);
            samples.Enqueue(new ProbeSample(at, node is not null, node));
        }
        finally
        {
            _inFlight.TryRemove(id, out _);
        }
    }

    private static ProbeResult Result(long sent, ConcurrentQueue<ProbeSample> samples)
    {
        var all = samples.ToArray().OrderBy(s => s.AtMs).ToList();
        var ok = all.Count(s => s.Ok);
        var answers = all.Where(s => s.Node is not null).GroupBy(s => s.Node!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (long)g.Count(), StringComparer.Ordinal);
        return new ProbeResult(sent, ok, all.Count - ok, ProbeResult.Gap(all), answers, all);
    }

    /// <summary>Sockets made by one thread that lives in the namespace (a socket belongs to the namespace it was made in).</summary>
    private sealed class SocketFactory : IDisposable
    {
        private readonly BlockingCollection<TaskCompletionSource<Socket>> _requests = [];
        private readonly Thread _thread;

        public SocketFactory(string netns, AddressFamily family)
        {
            var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _thread = new Thread(() =>
            {
                try
                {
                    NetNs.Enter(netns);
                    entered.SetResult();
                }
                catch (NetlinkException e)
                {
                    entered.SetException(e);
                    return;
                }

                foreach (var r in _requests.GetConsumingEnumerable())
                {
                    try
                    {
                        r.SetResult(new Socket(family, SocketType.Stream, ProtocolType.Tcp));
                    }
                    catch (SocketException e)
                    {
                        r.SetException(e);
                    }
                }
            })
            {
                IsBackground = true,
                Name = $"prober {netns}",
            };
            _thread.Start();
            entered.Task.GetAwaiter().GetResult();
        }

        public Task<Socket> NextAsync()
        {
            var r = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
            _requests.Add(r);
            return r.Task;
        }

        public void Dispose()
        {
            _requests.CompleteAdding();
            _thread.Join();
            _requests.Dispose();
        }
    }
}
