using System.Text.Json.Nodes;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Resources.Kinds;
using Extip.ApiServer.Schemas;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

public sealed partial class ApiHandler
{
    private const string ObjectMetaDefinition = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

    /// <summary>
    /// Drops fields the kind does not declare. With <c>fieldValidation=Strict</c> they are an
    /// error (400, as the real server's strict decoding); with <c>Warn</c> (the default) each one
    /// becomes a Warning header; with <c>Ignore</c> they are dropped silently.
    /// </summary>
    private static void CheckFields(HttpContext http, ResourceType type, JsonObject obj)
    {
        var mode = http.Request.Query["fieldValidation"].ToString();
        if (mode.Length > 0 && mode is not ("Strict" or "Warn" or "Ignore"))
        {
            throw Errors.BadRequest($"fieldValidation: Invalid value: \"{mode}\": fieldValidation must be one of: Ignore, Warn, Strict");
        }

        var unknown = new List<string>();
        if (type.Definition is { } def)
        {
            unknown.AddRange(BuiltinSchemas.PruneUnknown(obj, def));
        }
        else
        {
            if (obj["metadata"] is JsonObject meta)
            {
                unknown.AddRange(BuiltinSchemas.PruneUnknown(meta, ObjectMetaDefinition).Select(p => $"metadata.{p}"));
            }

            if (type.Strategy is CustomResourceStrategy { Schema: { } schema })
            {
                var probe = (JsonObject)obj.DeepClone();
                var pruned = new List<string>();
                schema.PruneAndDefault(probe, pruned);
                unknown.AddRange(pruned);
            }
        }

        if (unknown.Count == 0 || mode == "Ignore")
        {
            return;
        }

        if (mode == "Strict")
        {
            throw Errors.BadRequest($"{type.Kind} in version \"{type.Version}\" cannot be handled as a {type.Kind}: strict decoding error: {string.Join(", ", unknown.Select(u => $"unknown field \"{u}\""))}");
        }

        foreach (var u in unknown)
        {
            http.Response.Headers.Append("Warning", $"299 - \"unknown field \\\"{u}\\\"\"");
        }
    }
}
