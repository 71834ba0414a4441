using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Json;
using Extip.ApiServer.Validation;

namespace Extip.ApiServer.Resources.Kinds;

/// <summary>Services as the real server treats them: defaults, cluster IP and node port allocation, and validation with field paths.</summary>
public sealed class ServiceStrategy : DefaultStrategy
{
    private static readonly string[] Types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    private static readonly string[] Protocols = ["SCTP", "TCP", "UDP"];

    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj)
    {
        obj["status"] = new JsonObject { ["loadBalancer"] = new JsonObject() };
        Defaults(obj);
    }

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old)
    {
        obj["status"] = old["status"]?.DeepClone() ?? new JsonObject { ["loadBalancer"] = new JsonObject() };
        var spec = obj.Obj("spec");
        var oldSpec = old.Obj("spec");

        // Allocated values the client left out are kept (the real server's patchAllocatedValues).
        if (spec["clusterIP"] is null && oldSpec["clusterIP"] is { } ip)
        {
            spec["clusterIP"] = ip.DeepClone();
        }

        if (spec["clusterIPs"] is null && oldSpec["clusterIPs"] is { } ips && spec.Str("clusterIP") == oldSpec.Str("clusterIP"))
        {
            spec["clusterIPs"] = ips.DeepClone();
        }

        if (NeedsNodePorts(spec) && spec["ports"] is JsonArray ports && oldSpec["ports"] is JsonArray oldPorts)
        {
            foreach (var p in ports.OfType<JsonObject>().Where(p => p["nodePort"] is null))
            {
                var match = oldPorts.OfType<JsonObject>().FirstOrDefault(o => o.Long("port") == p.Long("port") && (o.Str("protocol") ?? "TCP") == (p.Str("protocol") ?? "TCP"));
                if (match?["nodePort"] is { } np)
                {
                    p["nodePort"] = np.DeepClone();
                }
            }
        }

        Defaults(obj);
    }

    private static void Defaults(JsonObject obj)
    {
        var spec = obj.Obj("spec");
        spec["type"] ??= "ClusterIP";
        spec["sessionAffinity"] ??= "None";
        var type = spec.Str("type");
        if (spec["ports"] is JsonArray ports)
        {
            foreach (var p in ports.OfType<JsonObject>())
            {
                p["protocol"] ??= "TCP";
                if (p["targetPort"] is null && p["port"] is { } port)
                {
                    p["targetPort"] = port.DeepClone();
                }
            }
        }

        if (type != "ExternalName")
        {
            spec["ipFamilyPolicy"] ??= "SingleStack";
            if (spec["ipFamilies"] is null)
            {
                var ip = spec.Str("clusterIP");
                spec["ipFamilies"] = new JsonArray(ip is not null && ip.Contains(':', StringComparison.Ordinal) ? "IPv6" : "IPv4");
            }

            spec["internalTrafficPolicy"] ??= "Cluster";
        }

        if (type is "NodePort" or "LoadBalancer")
        {
            spec["externalTrafficPolicy"] ??= "Cluster";
        }

        if (type == "LoadBalancer")
        {
            spec["allocateLoadBalancerNodePorts"] ??= true;
        }
    }

    private static bool NeedsNodePorts(JsonObject spec) =>
        spec.Str("type") == "NodePort" || (spec.Str("type") == "LoadBalancer" && spec["allocateLoadBalancerNodePorts"]?.GetValue<bool>() != false);

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        var errors = new List<FieldError>();
        var name = obj.Str("metadata", "name") ?? string.Empty;
        if (NameRules.Dns1035Label("metadata.name", name) is { } ne)
        {
            errors.Add(ne);
        }

        var spec = obj.Obj("spec");
        var type = spec.Str("type") ?? "ClusterIP";
        if (!Types.Contains(type))
        {
            errors.Add(FieldError.NotSupported("spec.type", type, Types));
        }

        var headless = spec.Str("clusterIP") == "None";
        var ports = spec["ports"] as JsonArray ?? [];
        if (ports.Count == 0 && type != "ExternalName" && !headless)
        {
            errors.Add(FieldError.Required("spec.ports"));
        }

        var names = new HashSet<string>();
        var pairs = new HashSet<string>();
        for (var i = 0; i < ports.Count; i++)
        {
            var f = $"spec.ports[{i}]";
            if (ports[i] is not JsonObject p)
            {
                errors.Add(FieldError.Invalid(f, ports[i], "must be an object"));
                continue;
            }

            var pname = p.Str("name");
            if (ports.Count > 1 && string.IsNullOrEmpty(pname))
            {
                errors.Add(FieldError.Required($"{f}.name"));
            }
            else if (!string.IsNullOrEmpty(pname) && !names.Add(pname))
            {
                errors.Add(FieldError.Duplicate($"{f}.name", pname));
            }

            var portValue = Int(p["port"]);
            if (portValue is null or < 1 or > 65535)
            {
                errors.Add(FieldError.Invalid($"{f}.port", Raw(p["port"]), "must be between 1 and 65535, inclusive"));
            }

            var protocol = p.Str("protocol") ?? "TCP";
            if (!Protocols.Contains(protocol))
            {
                errors.Add(FieldError.NotSupported($"{f}.protocol", protocol, Protocols));
            }

            if (portValue is not null && !pairs.Add($"{portValue}/{protocol}"))
            {
                errors.Add(FieldError.Duplicate(f, $"{portValue}/{protocol}"));
            }

            if (p["targetPort"] is JsonValue tp)
            {
                if (tp.GetValueKind() == JsonValueKind.Number && (Int(tp) is null or < 1 or > 65535))
                {
                    errors.Add(FieldError.Invalid($"{f}.targetPort", Raw(tp), "must be between 1 and 65535, inclusive"));
                }
            }

            if (p["nodePort"] is { } np && (Int(np) is not { } npv || npv < 0 || npv > 65535))
            {
                errors.Add(FieldError.Invalid($"{f}.nodePort", Raw(np), "must be between 1 and 65535, inclusive"));
            }
            else if (p["nodePort"] is not null && type is "ClusterIP" or "ExternalName")
            {
                errors.Add(FieldError.Forbidden($"{f}.nodePort", "may not be used when `type` is 'ClusterIP'"));
            }
        }

        if (spec["externalIPs"] is JsonArray ext)
        {
            for (var i = 0; i < ext.Count; i++)
            {
                var text = ext[i]?.ToString() ?? string.Empty;
                if (IpProblem(text) is { } why)
                {
                    errors.Add(FieldError.Invalid($"spec.externalIPs[{i}]", text, why));
                }
            }
        }

        var etp = spec.Str("externalTrafficPolicy");
        if (etp is not null && type is not ("NodePort" or "LoadBalancer"))
        {
            errors.Add(FieldError.Invalid("spec.externalTrafficPolicy", etp, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"));
        }
        else if (etp is not null and not ("Cluster" or "Local"))
        {
            errors.Add(FieldError.NotSupported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]));
        }

        var affinity = spec.Str("sessionAffinity");
        if (affinity is not null and not ("None" or "ClientIP"))
        {
            errors.Add(FieldError.NotSupported("spec.sessionAffinity", affinity, ["ClientIP", "None"]));
        }

        if (spec.Str("loadBalancerClass") is { } lbc && type != "LoadBalancer")
        {
            errors.Add(FieldError.Invalid("spec.loadBalancerClass", lbc, "may only be used when `type` is 'LoadBalancer'"));
        }

        if (old is not null)
        {
            var oldSpec = old.Obj("spec");
            var oldIp = oldSpec.Str("clusterIP");
            var newIp = spec.Str("clusterIP");
            var newIps = (spec["clusterIPs"] as JsonArray)?.Select(x => x?.ToString()).ToList() ?? [];
            if (oldIp is not null && oldSpec.Str("type") != "ExternalName" && type != "ExternalName"
                && ((newIp is not null && oldIp != newIp) || (newIps.Count > 0 && newIps[0] != oldIp)))
            {
                var shown = newIps.Count > 0 ? newIps : [newIp];
                errors.Add(new FieldError("spec.clusterIPs[0]", "FieldValueInvalid",
                    $"Invalid value: []string{{{string.Join(", ", shown.Select(s => $"\"{s}\""))}}}: may not change once set"));
            }

            if (oldSpec.Str("loadBalancerClass") is { } oldClass && spec.Str("loadBalancerClass") != oldClass && oldSpec.Str("type") == "LoadBalancer" && type == "LoadBalancer")
            {
                errors.Add(FieldError.Invalid("spec.loadBalancerClass", spec.Str("loadBalancerClass"), "may not change once set"));
            }
        }

        return errors;
    }

    public override IEnumerable<FieldError> Allocate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        var errors = new List<FieldError>();
        var spec = obj.Obj("spec");
        var oldSpec = old?.Obj("spec");
        var type = spec.Str("type");
        var addressing = ctx.Services;
        if (type == "ExternalName")
        {
            addressing.ReleaseClusterIp(oldSpec?.Str("clusterIP"));
            spec.Remove("clusterIP");
            spec.Remove("clusterIPs");
        }
        else
        {
            var ip = spec.Str("clusterIP");
            var oldIp = oldSpec?.Str("clusterIP");
            if (ip == "None")
            {
                spec["clusterIPs"] = new JsonArray("None");
            }
            else if (string.IsNullOrEmpty(ip))
            {
                ip = addressing.AllocateClusterIp();
                spec["clusterIP"] = ip;
                spec["clusterIPs"] = new JsonArray(ip);
            }
            else if (ip != oldIp)
            {
                if (addressing.ClaimClusterIp(ip) is { } why)
                {
                    errors.Add(FieldError.Invalid("spec.clusterIPs[0]", ip, why));
                }

                spec["clusterIPs"] = new JsonArray(ip);
            }
        }

        var ports = spec["ports"] as JsonArray ?? [];
        var oldPorts = (oldSpec?["ports"] as JsonArray)?.OfType<JsonObject>().Select(p => Int(p["nodePort"])).OfType<int>().ToHashSet() ?? [];
        var kept = new HashSet<int>();
        if (NeedsNodePorts(spec))
        {
            for (var i = 0; i < ports.Count; i++)
            {
                if (ports[i] is not JsonObject p)
                {
                    continue;
                }

                if (Int(p["nodePort"]) is { } want && want != 0)
                {
                    if (!oldPorts.Contains(want) && addressing.ClaimNodePort(want) is { } why)
                    {
                        errors.Add(FieldError.Invalid($"spec.ports[{i}].nodePort", want, why));
                    }

                    kept.Add(want);
                }
                else
                {
                    var np = addressing.AllocateNodePort();
                    p["nodePort"] = np;
                    kept.Add(np);
                }
            }
        }
        else
        {
            foreach (var p in ports.OfType<JsonObject>())
            {
                p.Remove("nodePort");
            }
        }

        foreach (var gone in oldPorts.Where(p => !kept.Contains(p)))
        {
            addressing.ReleaseNodePort(gone);
        }

        return errors;
    }

    public override void Deleted(ResourceContext ctx, JsonObject obj)
    {
        var spec = obj.Obj("spec");
        if (spec.Str("clusterIP") is { } ip and not "None")
        {
            ctx.Services.ReleaseClusterIp(ip);
        }

        foreach (var p in (spec["ports"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (Int(p["nodePort"]) is { } np)
            {
                ctx.Services.ReleaseNodePort(np);
            }
        }
    }

    /// <summary>Rebuilds what stored Services hold (after loading persisted objects).</summary>
    public static void Reclaim(ServiceAddressing addressing, JsonObject obj)
    {
        var spec = obj.Obj("spec");
        if (spec.Str("clusterIP") is { } ip and not "None")
        {
            addressing.ClaimClusterIp(ip);
        }

        foreach (var p in (spec["ports"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (Int(p["nodePort"]) is { } np)
            {
                addressing.ClaimNodePort(np);
            }
        }
    }

    private static string? IpProblem(string text)
    {
        if (!IPAddress.TryParse(text, out var ip) || text.Contains('%', StringComparison.Ordinal) || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && text.Count(c => c == '.') != 3))
        {
            return "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
        }

        if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
        {
            return "may not be unspecified (0.0.0.0)";
        }

        if (IPAddress.IsLoopback(ip))
        {
            return "may not be in the loopback range (127.0.0.0/8, ::1/128)";
        }

        var b = ip.GetAddressBytes();
        if ((b.Length == 4 && b[0] == 169 && b[1] == 254) || ip.IsIPv6LinkLocal)
        {
            return "may not be in the link-local range (169.254.0.0/16, fe80::/10)";
        }

        if ((b.Length == 4 && b[0] == 224 && b[1] == 0 && b[2] == 0) || (b.Length == 16 && b[0] == 0xff && b[1] == 0x02))
        {
            return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)";
        }

        return null;
    }

    private static int? Int(JsonNode? n) =>
        n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i) ? i : null;

    private static object? Raw(JsonNode? n) =>
        n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var l) ? l : n;
}
