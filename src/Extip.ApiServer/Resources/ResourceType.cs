using System.Text.Json.Nodes;
using Extip.ApiServer.Tables;

namespace Extip.ApiServer.Resources;

/// <summary>Converts objects of a served version to and from the stored version.</summary>
public interface IObjectConverter
{
    JsonObject ToStorage(JsonObject served);

    JsonObject FromStorage(JsonObject stored);
}

/// <summary>One served resource: its names, scope, verbs, and how objects of it are defaulted, validated and shown.</summary>
public sealed record ResourceType
{
    public required string Group { get; init; }

    public required string Version { get; init; }

    public required string Plural { get; init; }

    public required string Singular { get; init; }

    public required string Kind { get; init; }

    public string ListKind => Kind + "List";

    public required bool Namespaced { get; init; }

    public IReadOnlyList<string> ShortNames { get; init; } = [];

    public IReadOnlyList<string> Categories { get; init; } = [];

    public bool HasStatus { get; init; }

    public IReadOnlyList<string> Verbs { get; init; } = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    /// <summary>Field selectors this resource accepts beyond metadata.name and metadata.namespace.</summary>
    public IReadOnlyDictionary<string, Func<JsonObject, string?>> FieldSelectors { get; init; } = new Dictionary<string, Func<JsonObject, string?>>();

    public IResourceStrategy Strategy { get; init; } = DefaultStrategy.Instance;

    public ITableConvertor Table { get; init; } = DefaultTable.Instance;

    /// <summary>Merge keys for strategic merge patch and server-side apply of this kind's lists (path → key fields).</summary>
    public MergeSchema Merge { get; init; } = MergeSchema.None;

    /// <summary>The storage bucket; two versions of one kind (core and events.k8s.io Events) share one.</summary>
    public string? StorageName { get; init; }

    /// <summary>Converts between this version and the stored one, when they differ.</summary>
    public IObjectConverter? Converter { get; init; }

    public string Bucket => StorageName ?? QualifiedPlural;

    /// <summary>The OpenAPI definition of a built-in kind (strict field validation, list rules, OpenAPI documents).</summary>
    public string? Definition { get; init; }

    /// <summary>True for kinds defined by CustomResourceDefinitions.</summary>
    public bool IsCustom { get; init; }

    public string GroupVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>As error messages name it: <c>services</c>, <c>leases.coordination.k8s.io</c>.</summary>
    public string QualifiedPlural => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    /// <summary>As Invalid messages name it: <c>Service</c>, <c>IPPool.extip.io</c>.</summary>
    public string QualifiedKind => Group.Length == 0 ? Kind : $"{Kind}.{Group}";

    /// <summary>The path prefix of the collection: <c>/api/v1</c> or <c>/apis/group/version</c>.</summary>
    public string ApiPrefix => Group.Length == 0 ? $"/api/{Version}" : $"/apis/{Group}/{Version}";

    public override string ToString() => $"{QualifiedPlural}/{Version}";

    public bool Equals(ResourceType? other) => ReferenceEquals(this, other);

    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(this);
}
