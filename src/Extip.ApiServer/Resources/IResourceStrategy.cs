using System.Text.Json.Nodes;
using Extip.ApiServer.Http;

namespace Extip.ApiServer.Resources;

/// <summary>Per-kind behaviour on writes, as the real server's registry strategies.</summary>
public interface IResourceStrategy
{
    /// <summary>Defaults and allocations on create (cluster IPs, node ports, status reset).</summary>
    void PrepareForCreate(ResourceContext ctx, JsonObject obj);

    /// <summary>Defaults on update; <paramref name="old"/> is the stored object.</summary>
    void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old);

    /// <summary>Field errors, each with the path and value.</summary>
    IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old);

    /// <summary>After validation, inside the write: take what the object needs (cluster IP, node ports); errors refuse the write.</summary>
    IEnumerable<FieldError> Allocate(ResourceContext ctx, JsonObject obj, JsonObject? old);

    /// <summary>Does this kind count spec changes in metadata.generation?</summary>
    bool TracksGeneration { get; }

    /// <summary>Called after the object is gone, to free what it held (node ports, cluster IPs).</summary>
    void Deleted(ResourceContext ctx, JsonObject obj);

    /// <summary>Called after the object was stored (a CRD starts serving its resource here).</summary>
    void Committed(ResourceContext ctx, JsonObject obj);

    /// <summary>Whether <see cref="Committed"/> does anything: when not, the stored object is not parsed again for it.</summary>
    bool ObservesCommits { get; }
}

/// <summary>What strategies may reach: the store and the allocators of the server.</summary>
public sealed class ResourceContext
{
    public required Storage.ObjectStore Store { get; init; }

    public required ServiceAddressing Services { get; init; }

    public required Resources.ResourceRegistry Registry { get; init; }
}

/// <summary>Kinds with no special rules: names are checked, nothing else.</summary>
public class DefaultStrategy : IResourceStrategy
{
    public static readonly DefaultStrategy Instance = new();

    public virtual void PrepareForCreate(ResourceContext ctx, JsonObject obj)
    {
    }

    public virtual void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old)
    {
    }

    public virtual IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old) => [];

    public virtual IEnumerable<FieldError> Allocate(ResourceContext ctx, JsonObject obj, JsonObject? old) => [];

    public virtual bool TracksGeneration => false;

    public virtual void Deleted(ResourceContext ctx, JsonObject obj)
    {
    }

    public virtual void Committed(ResourceContext ctx, JsonObject obj)
    {
    }

    public virtual bool ObservesCommits => false;
}
