using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Extip.ApiServer.Json;
using Extip.ApiServer.Patching;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Storage;
using Extip.ApiServer.Validation;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

public sealed partial class ApiHandler
{
    private const string GenerateNameChars = "bcdfghjklmnpqrstvwxz2456789";

    private async Task CreateAsync(HttpContext http, RequestInfo info)
    {
        var type = info.Type;
        if (info.Subresource is not null)
        {
            throw Errors.MethodNotAllowed("create");
        }

        var body = await ReadBodyAsync(http) as JsonObject ?? throw Errors.BadRequest($"the object provided is unrecognized (must be of type {type.Kind})");
        CheckKind(type, body);
        CheckFields(http, type, body);
        var obj = ToStorage(type, body);
        var meta = obj.Meta();
        var name = meta.Str("name");
        if (string.IsNullOrEmpty(name) && meta.Str("generateName") is { Length: > 0 } prefix)
        {
            name = prefix + new string(Enumerable.Range(0, 5).Select(_ => GenerateNameChars[Random.Shared.Next(GenerateNameChars.Length)]).ToArray());
            meta["name"] = name;
        }

        if (string.IsNullOrEmpty(name))
        {
            throw Errors.Invalid(type, string.Empty, [FieldError.Required("metadata.name", "name or generateName is required")]);
        }

        var ns = CheckNamespace(info, meta, name);
        meta.Remove("resourceVersion");
        meta.Remove("deletionTimestamp");
        meta.Remove("deletionGracePeriodSeconds");
        meta.Remove("selfLink");
        var manager = FieldManager(http);
        Created(type, obj, name);
        meta.Remove("managedFields");
        ManagedFields.RecordUpdate(obj, null, manager, type, null, DateTimeOffset.UtcNow);
        var ticket = new AdmissionTicket(ns, DryRun(http), http.Items[UserItem] as Authorization.UserInfo);
        if (ticket.DryRun)
        {
            await AdmittedAsync(http, ticket, () =>
            {
                Admit(ticket, type, "CREATE", null, name, obj, null, 0);
                return 0;
            });
            await WriteJsonAsync(http, 201, FromStorage(type, obj));
            return;
        }

        var (stored, _, _) = await AdmittedAsync(http, ticket, () => store.Mutate(type, ns, name, existing =>
        {
            if (existing is not null)
            {
                throw Errors.AlreadyExists(type, name);
            }

            Admit(ticket, type, "CREATE", null, name, obj, null, 0);
            Allocate(type, obj, null, name);
            return Mutation.Put(obj);
        }));
        if (type.Strategy.ObservesCommits)
        {
            type.Strategy.Committed(context, stored!.Object);
        }
        await WriteBytesAsync(http, 201, ServedBytes(type, stored!));
    }

    /// <summary>What every new object gets, by a create or by an apply that creates: a uid, its creation time, generation 1 where tracked, the kind's defaults; then validation.</summary>
    private void Created(ResourceType type, JsonObject obj, string name)
    {
        var meta = obj.Meta();
        meta["uid"] = Guid.NewGuid().ToString();
        meta["creationTimestamp"] = JsonPath.Timestamp(DateTimeOffset.UtcNow);
        if (type.Strategy.TracksGeneration)
        {
            meta["generation"] = 1;
        }
        else
        {
            meta.Remove("generation");
        }

        type.Strategy.PrepareForCreate(context, obj);
        Validate(type, obj, null, name);
    }

    private async Task UpdateAsync(HttpContext http, RequestInfo info)
    {
        var type = info.Type;
        var body = await ReadBodyAsync(http) as JsonObject ?? throw Errors.BadRequest($"the object provided is unrecognized (must be of type {type.Kind})");
        CheckKind(type, body);
        CheckFields(http, type, body);
        var incoming = ToStorage(type, body);
        var name = incoming.Str("metadata", "name");
        if (name != info.Name)
        {
            throw Errors.BadRequest($"the name of the object ({name}) does not match the name on the URL ({info.Name})");
        }

        var ns = CheckNamespace(info, incoming.Meta(), name!, creating: false);
        var manager = FieldManager(http);
        var dry = DryRun(http);
        JsonObject? dryResult = null;
        var ticket = new AdmissionTicket(ns, dry, http.Items[UserItem] as Authorization.UserInfo);
        var (stored, _, _) = await AdmittedAsync(http, ticket, () => store.Mutate(type, ns, info.Name!, prev =>
        {
            if (prev is null)
            {
                throw Errors.NotFound(type, info.Name!);
            }

            var rv = incoming.Str("metadata", "resourceVersion");
            if (!string.IsNullOrEmpty(rv) && rv != prev.ResourceVersion.ToString(CultureInfo.InvariantCulture))
            {
                throw Errors.Conflict(type, info.Name!);
            }

            var m = Updated(type, prev, incoming, info.Subresource, manager, ticket);
            if (dry)
            {
                dryResult = m.Object ?? prev.Object;
                return Mutation.Nothing;
            }

            return m;
        }));
        if (dryResult is not null)
        {
            await WriteJsonAsync(http, 200, FromStorage(type, dryResult));
            return;
        }

        await RespondWritten(http, type, stored);
    }

    private async Task PatchAsync(HttpContext http, RequestInfo info)
    {
        var type = info.Type;
        var contentType = (http.Request.ContentType ?? string.Empty).Split(';')[0].Trim();
        var kind = contentType switch
        {
            "application/json-patch+json" => "json",
            "application/merge-patch+json" => "merge",
            "application/strategic-merge-patch+json" when !type.IsCustom => "strategic",
            "application/apply-patch+yaml" or "application/apply-patch+json" or "application/apply-patch+cbor" => "apply",
            _ => throw new ApiException(415, "UnsupportedMediaType", "415: Unsupported Media Type"),
        };
        var patch = await ReadBodyAsync(http, kind == "apply" ? "yaml" : null);
        if (kind == "json" && patch is not JsonArray)
        {
            throw Errors.BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
        }

        if (kind != "json" && patch is not JsonObject)
        {
            throw Errors.BadRequest("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json");
        }

        var manager = FieldManager(http);
        if (kind == "apply" && http.Request.Query["fieldManager"].ToString().Length == 0)
        {
            throw Errors.BadRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
        }

        var force = QueryValues.Bool(http.Request.Query, "force");
        var ns = info.Namespace ?? string.Empty;
        var dry = DryRun(http);
        JsonObject? dryResult = null;
        var created = false;
        var ticket = new AdmissionTicket(ns, dry, http.Items[UserItem] as Authorization.UserInfo);
        var (stored, _, _) = await AdmittedAsync(http, ticket, () => store.Mutate(type, ns, info.Name!, prev =>
        {
            if (prev is null)
            {
                if (kind != "apply" || info.Subresource is not null)
                {
                    throw Errors.NotFound(type, info.Name!);
                }

                // Server-side apply creates what does not exist.
                var config = (JsonObject)patch!;
                CheckKind(type, config);
                CheckFields(http, type, config);
                var fresh = ManagedFields.Apply(null, ToStorage(type, config), manager, force, type, DateTimeOffset.UtcNow);
                var meta = fresh.Meta();
                meta["name"] = info.Name;
                CheckNamespace(info, meta, info.Name!);
                Created(type, fresh, info.Name!);
                Admit(ticket, type, "CREATE", null, info.Name!, fresh, null, 0);
                if (dry)
                {
                    dryResult = fresh;
                    return Mutation.Nothing;
                }

                Allocate(type, fresh, null, info.Name!);
                created = true;
                return Mutation.Put(fresh);
            }

            var current = FromStorage(type, prev.Object);
            JsonObject candidate;
            try
            {
                candidate = kind switch
                {
                    "json" => JsonPatch.Apply(current.DeepClone(), (JsonArray)patch!) as JsonObject ?? throw new PatchException("the patch does not produce an object"),
                    "merge" => MergePatch.Apply(current.DeepClone(), patch) as JsonObject ?? throw new PatchException("the patch does not produce an object"),
                    "strategic" => StrategicMergePatch.Apply((JsonObject)current.DeepClone(), (JsonObject)patch!, type.Merge),
                    _ => ManagedFields.Apply(current, (JsonObject)patch!, manager, force, type, DateTimeOffset.UtcNow),
                };
            }
            catch (PatchException e)
            {
                throw new ApiException(422, "Invalid", "the server rejected our request due to an error in our request") { PatchError = e.Message };
            }

            CheckFields(http, type, candidate);
            var rv = candidate.Str("metadata", "resourceVersion");
            if (!string.IsNullOrEmpty(rv) && rv != prev.ResourceVersion.ToString(CultureInfo.InvariantCulture))
            {
                throw Errors.Conflict(type, info.Name!);
            }

            if (candidate.Str("metadata", "name") != info.Name)
            {
                throw Errors.BadRequest($"the name of the object ({candidate.Str("metadata", "name")}) does not match the name on the URL ({info.Name})");
            }

            var m = Updated(type, prev, ToStorage(type, candidate), info.Subresource, kind == "apply" ? null : manager, ticket);
            if (dry)
            {
                dryResult = m.Object ?? prev.Object;
                return Mutation.Nothing;
            }

            return m;
        }));
        if (dryResult is not null)
        {
            await WriteJsonAsync(http, 200, FromStorage(type, dryResult));
            return;
        }

        await RespondWritten(http, type, stored, created ? 201 : 200);
    }

    private async Task RespondWritten(HttpContext http, ResourceType type, StoredObject? stored, int status = 200)
    {
        if (stored is null)
        {
            throw new ApiException(500, "InternalError", "the object vanished during the write");
        }

        if (type.Strategy.ObservesCommits)
        {
            type.Strategy.Committed(context, stored.Object);
        }
        await WriteBytesAsync(http, status, ServedBytes(type, stored));
    }

    /// <summary>
    /// Turns an incoming object into the next stored state of <paramref name="prev"/>: server-owned
    /// metadata kept, status or spec kept per subresource, defaults, validation, generation,
    /// managed fields; nothing when the result equals what is stored; deletion when the last
    /// finalizer of a terminating object went away.
    /// </summary>
    private Mutation Updated(ResourceType type, StoredObject prev, JsonObject incoming, string? subresource, string? manager, AdmissionTicket ticket)
    {
        var old = prev.Object;
        JsonObject result;
        if (subresource == "status")
        {
            result = prev.Copy();
            result["status"] = incoming["status"]?.DeepClone();
        }
        else
        {
            result = incoming;
            var meta = result.Meta();
            var oldMeta = (JsonObject)old["metadata"]!;
            foreach (var keep in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "generation" })
            {
                if (oldMeta[keep] is { } v)
                {
                    meta[keep] = v.DeepClone();
                }
                else
                {
                    meta.Remove(keep);
                }
            }

            if (meta["managedFields"] is null && oldMeta["managedFields"] is { } mf)
            {
                meta["managedFields"] = mf.DeepClone();
            }

            type.Strategy.PrepareForUpdate(context, result, old);
        }

        result.Meta()["resourceVersion"] = prev.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        Validate(type, result, old, prev.Name);
        if (type.Strategy.TracksGeneration && subresource != "status")
        {
            var gen = old.Long("metadata", "generation") ?? 1;
            result.Meta()["generation"] = SpecChanged(old, result) ? gen + 1 : gen;
        }

        if (manager is not null)
        {
            ManagedFields.RecordUpdate(result, old, manager, type, subresource, DateTimeOffset.UtcNow);
        }

        // As kube-apiserver, webhooks see an update even when it changes nothing.
        Admit(ticket, type, "UPDATE", subresource, prev.Name, result, old, prev.ResourceVersion);
        if (SameObject(old, result))
        {
            return Mutation.Nothing;
        }

        Allocate(type, result, old, prev.Name);
        if (result.At("metadata", "deletionTimestamp") is not null && Finalizers(result).Count == 0 && type.Plural != "namespaces")
        {
            type.Strategy.Deleted(context, result);
            return Mutation.Delete(result);
        }

        return Mutation.Put(result);
    }

    private static bool SpecChanged(JsonObject old, JsonObject now)
    {
        foreach (var key in old.Select(kv => kv.Key).Union(now.Select(kv => kv.Key)))
        {
            if (key is "metadata" or "status" or "apiVersion" or "kind")
            {
                continue;
            }

            if (!JsonNode.DeepEquals(old[key], now[key]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Equal but for managedFields timestamps: such a write changes nothing and keeps the resourceVersion.</summary>
    private static bool SameObject(JsonObject a, JsonObject b)
    {
        var x = (JsonObject)a.DeepClone();
        var y = (JsonObject)b.DeepClone();
        foreach (var o in new[] { x, y })
        {
            if (o.At("metadata", "managedFields") is JsonArray mf)
            {
                foreach (var e in mf.OfType<JsonObject>())
                {
                    e.Remove("time");
                }
            }
        }

        return JsonNode.DeepEquals(x, y);
    }

    private static void CheckKind(ResourceType type, JsonObject body)
    {
        var kind = body.Str("kind");
        var apiVersion = body.Str("apiVersion");
        if (apiVersion is not null && apiVersion != type.GroupVersion)
        {
            throw Errors.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({type.GroupVersion})");
        }

        if (kind is not null && kind != type.Kind)
        {
            throw Errors.BadRequest($"{kind} in version \"{apiVersion ?? type.Version}\" cannot be handled as a {type.Kind}: converting ({apiVersion ?? type.Version}.{kind}) to ({type.Kind}): unknown conversion");
        }

        body["kind"] = type.Kind;
        body["apiVersion"] = type.GroupVersion;
    }

    /// <summary>The namespace of the write: the URL's, matching the object's, existing and not terminating.</summary>
    private string CheckNamespace(RequestInfo info, JsonObject meta, string name, bool creating = true)
    {
        if (!info.Type.Namespaced)
        {
            meta.Remove("namespace");
            return string.Empty;
        }

        var ns = info.Namespace ?? throw Errors.BadRequest("the namespace of the object must be set in the request path");
        if (meta.Str("namespace") is { Length: > 0 } given && given != ns)
        {
            throw Errors.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }

        meta["namespace"] = ns;
        if (creating)
        {
            var nsType = registry.Find(string.Empty, "v1", "namespaces")!;
            var nsObj = store.Get(nsType, string.Empty, ns) ?? throw Errors.NamespaceNotFound(ns);
            if (nsObj.IsTerminating)
            {
                throw Errors.NamespaceTerminating(ns, info.Type, name);
            }
        }

        return ns;
    }

    private void Validate(ResourceType type, JsonObject obj, JsonObject? old, string name)
    {
        var errors = new List<FieldError>();
        errors.AddRange(NameRules.Labels("metadata.labels", obj.At("metadata", "labels") as JsonObject));
        errors.AddRange(type.Strategy.Validate(context, obj, old));
        if (errors.Count > 0)
        {
            throw Errors.Invalid(type, name, errors);
        }
    }

    private void Allocate(ResourceType type, JsonObject obj, JsonObject? old, string name)
    {
        var errors = type.Strategy.Allocate(context, obj, old).ToList();
        if (errors.Count > 0)
        {
            throw Errors.Invalid(type, name, errors);
        }
    }

    private static JsonObject ToStorage(ResourceType type, JsonObject served) =>
        type.Converter is { } c ? c.ToStorage(served) : served;

    private static JsonObject FromStorage(ResourceType type, JsonObject stored) =>
        type.Converter is { } c ? c.FromStorage(stored) : (JsonObject)stored.DeepClone();
}
