using System.Text.Json;
using System.Text.Json.Nodes;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Resources.Kinds;

namespace Extip.ApiServer.Storage;

/// <summary>
/// Keeps objects in a data directory so that a lab survives a restart: a snapshot file rewritten
/// (atomically, by rename) at most twice a second after changes. CRDs are loaded first so their
/// resources exist before their objects come back.
/// </summary>
internal sealed class Persistence(string dir, ObjectStore store, ResourceRegistry registry, ServiceAddressing addressing) : IDisposable
{
    private readonly string _file = Path.Combine(dir, "objects.json");
    private readonly SemaphoreSlim _dirty = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task? _writer;
    private int _pending;

    public void Load()
    {
        PrivateFiles.Directory(dir);
        if (!File.Exists(_file))
        {
            return;
        }

        var root = JsonNode.Parse(File.ReadAllText(_file))!.AsObject();
        var buckets = root["buckets"]!.AsObject();
        var crds = registry.All.First(t => t.Plural == "customresourcedefinitions");
        if (buckets[crds.Bucket] is JsonArray crdList)
        {
            foreach (var crd in crdList.OfType<JsonObject>())
            {
                store.Load(crds, (JsonObject)crd.DeepClone());
                foreach (var t in CustomResources.TypesOf(crd))
                {
                    registry.Register(t);
                }
            }
        }

        foreach (var (bucket, items) in buckets)
        {
            if (bucket == crds.Bucket)
            {
                continue;
            }

            var type = registry.All.FirstOrDefault(t => t.Bucket == bucket && t.Converter is null);
            if (type is null || items is not JsonArray list)
            {
                continue;
            }

            foreach (var o in list.OfType<JsonObject>())
            {
                var copy = (JsonObject)o.DeepClone();
                store.Load(type, copy);
                if (type.Plural == "services" && type.Group.Length == 0)
                {
                    ServiceStrategy.Reclaim(addressing, copy);
                }
            }
        }
    }

    public void Start()
    {
        store.Changed += MarkDirty;
        _writer = Task.Run(WriteLoopAsync);
    }

    private void MarkDirty()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            _dirty.Release();
        }
    }

    private async Task WriteLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _dirty.WaitAsync(_stop.Token);
                await Task.Delay(500, _stop.Token);
                Interlocked.Exchange(ref _pending, 0);
            }
            catch (OperationCanceledException)
            {
            }

            Save();
        }
    }

    private void Save()
    {
        var buckets = new JsonObject();
        foreach (var g in store.Snapshot().GroupBy(x => x.Bucket))
        {
            buckets[g.Key] = new JsonArray(g.Select(x => (JsonNode)x.Object.Object).ToArray());
        }

        var tmp = _file + ".tmp";
        // Secrets are in there: only the owner may read it (issue 12).
        PrivateFiles.WriteAllText(tmp, new JsonObject { ["resourceVersion"] = store.CurrentResourceVersion, ["buckets"] = buckets }.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        File.Move(tmp, _file, overwrite: true);
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _writer?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        Save();
        _stop.Dispose();
        _dirty.Dispose();
    }
}
