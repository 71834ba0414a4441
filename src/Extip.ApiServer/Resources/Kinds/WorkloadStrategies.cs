using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Json;
using Extip.ApiServer.Validation;
using Extip.Core.Selectors;

namespace Extip.ApiServer.Resources.Kinds;

/// <summary>The defaults and checks every pod spec gets, in a Pod or in a workload's template.</summary>
public static class PodSpecRules
{
    public static void Default(JsonObject spec)
    {
        spec["restartPolicy"] ??= "Always";
        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["securityContext"] ??= new JsonObject();
        foreach (var c in (spec["containers"] as JsonArray ?? []).OfType<JsonObject>())
        {
            c["terminationMessagePath"] ??= "/dev/termination-log";
            c["terminationMessagePolicy"] ??= "File";
            c["resources"] ??= new JsonObject();
            var image = c.Str("image") ?? string.Empty;
            c["imagePullPolicy"] ??= image.EndsWith(":latest", StringComparison.Ordinal) || !image.Contains(':', StringComparison.Ordinal) ? "Always" : "IfNotPresent";
            foreach (var p in (c["ports"] as JsonArray ?? []).OfType<JsonObject>())
            {
                p["protocol"] ??= "TCP";
            }
        }
    }

    public static IEnumerable<FieldError> Validate(JsonNode? spec, string at)
    {
        var containers = spec?["containers"] as JsonArray;
        if (containers is null || containers.Count == 0)
        {
            yield return FieldError.Required($"{at}.containers");
            yield break;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < containers.Count; i++)
        {
            var c = containers[i] as JsonObject;
            var name = c?.Str("name");
            if (string.IsNullOrEmpty(name))
            {
                yield return FieldError.Required($"{at}.containers[{i}].name");
            }
            else if (!names.Add(name))
            {
                yield return FieldError.Duplicate($"{at}.containers[{i}].name", name);
            }
            else if (NameRules.Dns1123Label($"{at}.containers[{i}].name", name) is { } bad)
            {
                yield return bad;
            }

            if (string.IsNullOrEmpty(c?.Str("image")))
            {
                yield return FieldError.Required($"{at}.containers[{i}].image");
            }
        }
    }
}

/// <summary>
/// apps/v1 Deployment, ReplicaSet and DaemonSet: stored and checked as kube-apiserver does (its
/// defaults, the selector that must match the template's labels and never changes, the template's
/// pod spec). No workload controller runs: their status stays as written, as on a server without
/// kube-controller-manager.
/// </summary>
public sealed class WorkloadStrategy(string kind) : DefaultStrategy
{
    public override bool TracksGeneration => true;

    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj)
    {
        Defaults(obj);
        obj["status"] = new JsonObject();
    }

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old)
    {
        Defaults(obj);
        obj["status"] = old["status"]?.DeepClone();
    }

    private void Defaults(JsonObject obj)
    {
        var spec = obj.Obj("spec");
        switch (kind)
        {
            case "Deployment":
                spec["replicas"] ??= 1;
                var strategy = spec["strategy"] as JsonObject ?? new JsonObject();
                spec["strategy"] = strategy;
                strategy["type"] ??= "RollingUpdate";
                if (strategy.Str("type") == "RollingUpdate")
                {
                    var rolling = strategy["rollingUpdate"] as JsonObject ?? new JsonObject();
                    strategy["rollingUpdate"] = rolling;
                    rolling["maxUnavailable"] ??= "25%";
                    rolling["maxSurge"] ??= "25%";
                }

                spec["revisionHistoryLimit"] ??= 10;
                spec["progressDeadlineSeconds"] ??= 600;
                break;
            case "ReplicaSet":
                spec["replicas"] ??= 1;
                break;
            case "DaemonSet":
                var update = spec["updateStrategy"] as JsonObject ?? new JsonObject();
                spec["updateStrategy"] = update;
                update["type"] ??= "RollingUpdate";
                if (update.Str("type") == "RollingUpdate")
                {
                    var rolling = update["rollingUpdate"] as JsonObject ?? new JsonObject();
                    update["rollingUpdate"] = rolling;
                    rolling["maxUnavailable"] ??= 1;
                }

                spec["revisionHistoryLimit"] ??= 10;
                break;
        }

        if (spec.At("template", "spec") is JsonObject podSpec)
        {
            PodSpecRules.Default(podSpec);
        }
    }

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        if (NameRules.Dns1123Subdomain("metadata.name", obj.Str("metadata", "name") ?? string.Empty) is { } e)
        {
            yield return e;
        }

        var spec = obj["spec"] as JsonObject ?? new JsonObject();
        if (spec.Long("replicas") is { } replicas && replicas < 0)
        {
            yield return FieldError.Invalid("spec.replicas", replicas, "must be greater than or equal to 0");
        }

        var selector = spec["selector"] as JsonObject;
        if (selector is null)
        {
            yield return FieldError.Required("spec.selector");
        }
        else if (selector.Count == 0 || ((selector["matchLabels"] as JsonObject)?.Count ?? 0) + ((selector["matchExpressions"] as JsonArray)?.Count ?? 0) == 0)
        {
            yield return FieldError.Invalid("spec.selector", selector.ToJsonString(), $"empty selector is invalid for {kind.ToLowerInvariant()}");
        }
        else
        {
            var labels = (spec.At("template", "metadata", "labels") as JsonObject ?? [])
                .ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);
            if (labels.Count == 0 || !Parse(selector).Matches(labels))
            {
                yield return FieldError.Invalid("spec.template.metadata.labels", labels.Count == 0 ? null : string.Join(",", labels.Select(kv => $"{kv.Key}={kv.Value}")), "`selector` does not match template `labels`");
            }
        }

        if (old is not null && old["spec"]?["selector"] is { } was && !JsonNode.DeepEquals(was, selector))
        {
            yield return FieldError.Invalid("spec.selector", selector?.ToJsonString(), "field is immutable");
        }

        if (spec["template"] is not JsonObject)
        {
            yield return FieldError.Required("spec.template");
            yield break;
        }

        foreach (var error in PodSpecRules.Validate(spec.At("template", "spec"), "spec.template.spec"))
        {
            yield return error;
        }

        var restart = spec.Str("template", "spec", "restartPolicy");
        if (restart is not null && restart != "Always")
        {
            yield return FieldError.NotSupported("spec.template.spec.restartPolicy", restart, ["Always"]);
        }
    }

    private static LabelSelector Parse(JsonObject selector) => new()
    {
        MatchLabels = (selector["matchLabels"] as JsonObject ?? []).ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? string.Empty, StringComparer.Ordinal),
        MatchExpressions = (selector["matchExpressions"] as JsonArray ?? []).OfType<JsonObject>()
            .Select(x => new SelectorRequirement(
                x.Str("key") ?? string.Empty,
                SelectorRequirement.TryParseOperator(x.Str("operator"), out var op) ? op : SelectorOperator.In,
                (x["values"] as JsonArray ?? []).Select(v => v?.ToString() ?? string.Empty).ToList()))
            .ToList(),
    };
}

/// <summary>policy/v1 PodDisruptionBudget: minAvailable or maxUnavailable, not both.</summary>
public sealed class DisruptionBudgetStrategy : DefaultStrategy
{
    public override bool TracksGeneration => true;

    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj) => obj["status"] = new JsonObject { ["disruptionsAllowed"] = 0, ["currentHealthy"] = 0, ["desiredHealthy"] = 0, ["expectedPods"] = 0 };

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old) => obj["status"] = old["status"]?.DeepClone();

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        if (NameRules.Dns1123Subdomain("metadata.name", obj.Str("metadata", "name") ?? string.Empty) is { } e)
        {
            yield return e;
        }

        if (obj.At("spec", "minAvailable") is not null && obj.At("spec", "maxUnavailable") is not null)
        {
            yield return FieldError.Invalid("spec", obj["spec"]!.ToJsonString(), "minAvailable and maxUnavailable cannot be both set");
        }
    }
}

/// <summary>scheduling.k8s.io/v1 PriorityClass: a value, and names starting "system-" kept for the system's own.</summary>
public sealed class PriorityClassStrategy : DefaultStrategy
{
    private const long HighestUserDefinable = 1_000_000_000;

    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj) => obj["preemptionPolicy"] ??= "PreemptLowerPriority";

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old) => obj["preemptionPolicy"] ??= "PreemptLowerPriority";

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        var name = obj.Str("metadata", "name") ?? string.Empty;
        if (NameRules.Dns1123Subdomain("metadata.name", name) is { } e)
        {
            yield return e;
        }

        if (obj.Long("value") is not { } value)
        {
            yield return FieldError.Required("value");
        }
        else if (value > HighestUserDefinable && name is not ("system-node-critical" or "system-cluster-critical"))
        {
            yield return FieldError.Forbidden("value", $"maximum allowed value of a user defined priority is {HighestUserDefinable}");
        }

        if (name.StartsWith("system-", StringComparison.Ordinal) && name is not ("system-node-critical" or "system-cluster-critical"))
        {
            yield return FieldError.Forbidden("metadata.name", "priority class names with 'system-' prefix are reserved for system use only");
        }

        if (old is not null && !JsonNode.DeepEquals(old["value"], obj["value"]))
        {
            yield return FieldError.Forbidden("value", "may not be changed in an update.");
        }
    }
}
