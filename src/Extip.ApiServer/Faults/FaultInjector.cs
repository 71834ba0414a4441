using Extip.ApiServer.Storage;

namespace Extip.ApiServer.Faults;

/// <summary>
/// Faults on demand, for resilience tests: drop every open watch, fail the next N requests that
/// match a verb and resource with a chosen status, add latency to every request, compact the
/// watch history now. Reachable from C# and from <c>/_extip/faults/…</c>.
/// </summary>
public sealed class FaultInjector(ObjectStore store)
{
    private readonly Lock _gate = new();
    private readonly List<Failure> _failures = [];

    public TimeSpan Latency { get; set; }

    public int DropWatches() => store.DropAllWatches();

    public void Compact() => store.Compact();

    /// <summary>The next <paramref name="count"/> requests with this verb (get, list, watch, create, update, patch, delete; null: any) on this resource (plural; null: any) fail with <paramref name="status"/>.</summary>
    public void FailNext(int count, int status, string? verb = null, string? resource = null)
    {
        lock (_gate)
        {
            _failures.Add(new Failure(verb, resource, status) { Remaining = count });
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _failures.Clear();
        }

        Latency = TimeSpan.Zero;
    }

    internal bool TryConsume(string verb, string resource, out int status)
    {
        lock (_gate)
        {
            foreach (var f in _failures)
            {
                if (f.Remaining > 0 && (f.Verb is null || f.Verb == verb) && (f.Resource is null || f.Resource == resource))
                {
                    f.Remaining--;
                    status = f.Status;
                    _failures.RemoveAll(x => x.Remaining == 0);
                    return true;
                }
            }
        }

        status = 0;
        return false;
    }

    public object Describe()
    {
        lock (_gate)
        {
            return new
            {
                latencyMs = Latency.TotalMilliseconds,
                failures = _failures.Select(f => new { f.Verb, f.Resource, f.Status, f.Remaining }).ToList(),
                openWatches = store.WatcherCount,
            };
        }
    }

    private sealed record Failure(string? Verb, string? Resource, int Status)
    {
        public int Remaining { get; set; }
    }
}
