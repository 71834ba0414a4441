using System.Globalization;
using System.Text.Json.Nodes;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

/// <summary>Deletes: one object or a collection, with preconditions, finalizers and namespaces that terminate.</summary>
public sealed partial class ApiHandler
{
    private static List<string> Finalizers(JsonObject o) =>
        (o.At("metadata", "finalizers") as JsonArray ?? []).Select(f => f?.ToString() ?? string.Empty).ToList();

    private async Task DeleteAsync(HttpContext http, RequestInfo info)
    {
        var type = info.Type;
        if (info.Subresource is not null)
        {
            throw Errors.MethodNotAllowed("delete");
        }

        var opts = http.Request.ContentLength > 0 || http.Request.Headers.TransferEncoding.Count > 0 ? await ReadBodyAsync(http) as JsonObject : null;
        var result = DeleteOne(type, info.Namespace ?? string.Empty, info.Name!, opts, DryRun(http));
        if (result.Pending is { } pending)
        {
            await WriteBytesAsync(http, 200, ServedBytes(type, pending));
            return;
        }

        // Kinds whose registry returns the deleted object (v1.22+ for Services); the rest answer a Status.
        if (result.Deleted is { } deleted && (type.IsCustom || (type.Group.Length == 0 && type.Plural is "services" or "pods")))
        {
            await WriteBytesAsync(http, 200, ServedBytes(type, deleted));
            return;
        }

        await WriteJsonAsync(http, 200, new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Success",
            ["details"] = new JsonObject
            {
                ["name"] = info.Name,
                ["group"] = type.Group.Length > 0 ? type.Group : null,
                ["kind"] = type.Plural,
                ["uid"] = result.Uid,
            },
        });
    }

    /// <summary>Deletes one object, honouring preconditions and finalizers. Pending is set when finalizers defer the deletion.</summary>
    private (StoredObject? Pending, string? Uid, StoredObject? Deleted) DeleteOne(ResourceType type, string ns, string name, JsonObject? opts, bool dry)
    {
        string? uid = null;
        var (stored, _, eventType) = store.Mutate(type, ns, name, prev =>
        {
            if (prev is null)
            {
                throw Errors.NotFound(type, name);
            }

            uid = prev.Uid;
            if (opts?.Str("preconditions", "uid") is { } wantUid && wantUid != uid)
            {
                throw Errors.Conflict(type, name, $"Precondition failed: UID in precondition: {wantUid}, UID in object meta: {uid}");
            }

            if (opts?.Str("preconditions", "resourceVersion") is { } wantRv && wantRv != prev.ResourceVersion.ToString(CultureInfo.InvariantCulture))
            {
                throw Errors.Conflict(type, name, $"Precondition failed: ResourceVersion in precondition: {wantRv}, ResourceVersion in object meta: {prev.ResourceVersion}");
            }

            if (dry)
            {
                return Mutation.Nothing;
            }

            var isNamespace = type.Plural == "namespaces" && type.Group.Length == 0;
            if (Finalizers(prev.Object).Count > 0 || isNamespace)
            {
                if (prev.IsTerminating)
                {
                    return Mutation.Nothing;
                }

                var copy = prev.Copy();
                copy.Meta()["deletionTimestamp"] = JsonPath.Timestamp(DateTimeOffset.UtcNow);
                copy.Meta()["deletionGracePeriodSeconds"] = 0;
                if (isNamespace)
                {
                    copy.Obj("status")["phase"] = "Terminating";
                }

                return Mutation.Put(copy);
            }

            return Mutation.Delete();
        });
        if (eventType == WatchEventType.Deleted && stored is not null)
        {
            type.Strategy.Deleted(context, stored.Object);
            return (null, uid, stored);
        }

        if (stored is not null && stored.IsTerminating)
        {
            if (type.Plural == "namespaces" && type.Group.Length == 0)
            {
                Finalizer.Finish(name);
            }

            return (stored, uid, null);
        }

        return (null, uid, null);
    }

    private async Task DeleteCollectionAsync(HttpContext http, RequestInfo info)
    {
        var filter = Filter(http, info);
        var (items, rv, _, _) = store.List(info.Type, filter, 0, null);
        foreach (var item in items)
        {
            try
            {
                DeleteOne(info.Type, item.Namespace, item.Name, null, DryRun(http));
            }
            catch (ApiException e) when (e.Code == 404)
            {
            }
        }

        await WriteJsonAsync(http, 200, new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) },
            ["status"] = "Success",
        });
    }
}
