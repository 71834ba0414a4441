using Extip.ApiServer.Resources;
using Extip.ApiServer.Storage;
using Microsoft.Extensions.Logging;

namespace Extip.ApiServer.Http;

/// <summary>
/// What kube-controller-manager's namespace controller does for a namespace that terminates:
/// delete everything in it, then the namespace. One run per namespace at a time; every run is
/// tracked and stopped (and awaited) with the server, never left behind as an untracked task.
/// </summary>
internal sealed partial class NamespaceFinalizer(ObjectStore store, ResourceRegistry registry, Action<ResourceType, string, string> deleteOne, TimeProvider time, ILogger logger) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Task> _running = new(StringComparer.Ordinal);

    /// <summary>Starts finishing <paramref name="ns"/> unless a run for it is on already.</summary>
    public void Finish(string ns)
    {
        lock (_gate)
        {
            if (_stop.IsCancellationRequested || _running.ContainsKey(ns))
            {
                return;
            }

            var run = RunAsync(ns, _stop.Token);
            if (!run.IsCompleted)
            {
                _running[ns] = run;
            }
        }
    }

    private async Task RunAsync(string ns, CancellationToken ct)
    {
        try
        {
            // The real namespace controller takes a moment too; meanwhile the namespace shows Terminating.
            await Task.Delay(TimeSpan.FromSeconds(1), time, ct);
            for (var attempt = 0; attempt < 600; attempt++)
            {
                if (DeleteContents(ns) == 0)
                {
                    var nsType = registry.Find(string.Empty, "v1", "namespaces")!;
                    store.Mutate(nsType, string.Empty, ns, prev => prev is null ? Mutation.Nothing : Mutation.Delete());
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct);
            }

            LogGaveUp(logger, ns);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            lock (_gate)
            {
                _running.Remove(ns);
            }
        }
    }

    /// <summary>Deletes what is left in the namespace (what waits on finalizers stays); returns how many objects were there.</summary>
    private int DeleteContents(string ns)
    {
        var left = 0;
        foreach (var t in registry.All.Where(t => t.Namespaced && t.Converter is null))
        {
            var (items, _, _, _) = store.List(t, new ListFilter(ns, Core.Selectors.LabelSelector.Everything, []), 0, null);
            foreach (var item in items)
            {
                left++;
                if (!item.IsTerminating)
                {
                    try
                    {
                        deleteOne(t, ns, item.Name);
                    }
                    catch (ApiException)
                    {
                    }
                }
            }
        }

        return left;
    }

    public async ValueTask DisposeAsync()
    {
        Task[] running;
        lock (_gate)
        {
            _stop.Cancel();
            running = [.. _running.Values];
        }

        await Task.WhenAll(running).ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "namespace {Namespace}: objects still in it after a minute; left Terminating")]
    private static partial void LogGaveUp(ILogger logger, string @namespace);
}
