using System.Text.Json.Nodes;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources.Kinds;
using Extip.ApiServer.Tables;

namespace Extip.ApiServer.Resources;

/// <summary>The built-in resources the lab and extip use, with the real server's names, tables and field selectors.</summary>
public static class Builtins
{
    private static readonly string[] AllCategory = ["all"];

    /// <summary>The built-in resources, each with its OpenAPI definition and the list rules derived from it.</summary>
    public static IEnumerable<ResourceType> All() => Declared().Select(t =>
        Schemas.BuiltinSchemas.DefinitionOf(t.Group, t.Version, t.Kind) is { } def
            ? t with { Definition = def, Merge = Schemas.BuiltinSchemas.MergeFor(def) }
            : t);

    private static IEnumerable<ResourceType> Declared() =>
    [
        Core("namespaces", "namespace", "Namespace", namespaced: false, ["ns"], new NamespaceStrategy(), NamespaceTable(), hasStatus: true,
            fields: new() { ["status.phase"] = o => o.Str("status", "phase") }),
        Core("nodes", "node", "Node", namespaced: false, ["no"], new NodeStrategy(), NodeTable(), hasStatus: true),
        Core("pods", "pod", "Pod", namespaced: true, ["po"], new PodStrategy(), PodTable(), hasStatus: true, categories: AllCategory,
            fields: new()
            {
                ["spec.nodeName"] = o => o.Str("spec", "nodeName") ?? string.Empty,
                ["status.phase"] = o => o.Str("status", "phase"),
                ["status.podIP"] = o => o.Str("status", "podIP"),
            }),
        Core("services", "service", "Service", namespaced: true, ["svc"], new ServiceStrategy(), ServiceTable(), hasStatus: true, categories: AllCategory),
        Core("endpoints", "endpoints", "Endpoints", namespaced: true, ["ep"], SubdomainNameStrategy.Instance, EndpointsTable()),
        Core("serviceaccounts", "serviceaccount", "ServiceAccount", namespaced: true, ["sa"], SubdomainNameStrategy.Instance, ServiceAccountTable()),
        Core("configmaps", "configmap", "ConfigMap", namespaced: true, ["cm"], ConfigMapStrategy.Instance, ConfigMapTable()),
        Core("secrets", "secret", "Secret", namespaced: true, [], new SecretStrategy(), SecretTable(),
            fields: new() { ["type"] = o => o.Str("type") }),
        Core("events", "event", "Event", namespaced: true, ["ev"], SubdomainNameStrategy.Instance, EventTable(),
            fields: EventFields()),
        new ResourceType
        {
            Group = "events.k8s.io", Version = "v1", Plural = "events", Singular = "event", Kind = "Event", Namespaced = true, ShortNames = ["ev"],
            Strategy = SubdomainNameStrategy.Instance, StorageName = "events", Converter = EventsV1Converter.Instance, Table = EventTable(),
            FieldSelectors = EventFields(),
        },
        new ResourceType
        {
            Group = "discovery.k8s.io", Version = "v1", Plural = "endpointslices", Singular = "endpointslice", Kind = "EndpointSlice", Namespaced = true,
            Strategy = new EndpointSliceStrategy(), Table = EndpointSliceTable(),
        },
        new ResourceType
        {
            Group = "coordination.k8s.io", Version = "v1", Plural = "leases", Singular = "lease", Kind = "Lease", Namespaced = true,
            Strategy = SubdomainNameStrategy.Instance, Table = LeaseTable(),
        },
        new ResourceType
        {
            Group = "admissionregistration.k8s.io", Version = "v1", Plural = "validatingwebhookconfigurations", Singular = "validatingwebhookconfiguration",
            Kind = "ValidatingWebhookConfiguration", Namespaced = false, Categories = ["api-extensions"],
            Strategy = new WebhookConfigurationStrategy(), Table = WebhookConfigurationTable(),
        },
        new ResourceType
        {
            Group = "admissionregistration.k8s.io", Version = "v1", Plural = "mutatingwebhookconfigurations", Singular = "mutatingwebhookconfiguration",
            Kind = "MutatingWebhookConfiguration", Namespaced = false, Categories = ["api-extensions"],
            Strategy = new WebhookConfigurationStrategy(mutating: true), Table = WebhookConfigurationTable(),
        },
        Apps("deployments", "Deployment", ["deploy"], DeploymentTable()),
        Apps("replicasets", "ReplicaSet", ["rs"], ReplicaSetTable()),
        Apps("daemonsets", "DaemonSet", ["ds"], DaemonSetTable()),
        new ResourceType
        {
            Group = "policy", Version = "v1", Plural = "poddisruptionbudgets", Singular = "poddisruptionbudget", Kind = "PodDisruptionBudget", Namespaced = true,
            ShortNames = ["pdb"], HasStatus = true, Strategy = new DisruptionBudgetStrategy(), Table = DisruptionBudgetTable(),
        },
        new ResourceType
        {
            Group = "scheduling.k8s.io", Version = "v1", Plural = "priorityclasses", Singular = "priorityclass", Kind = "PriorityClass", Namespaced = false,
            ShortNames = ["pc"], Strategy = new PriorityClassStrategy(), Table = PriorityClassTable(),
        },
        Review("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview", namespaced: false),
        Review("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview", namespaced: false),
        Review("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview", namespaced: false),
        Review("authorization.k8s.io", "localsubjectaccessreviews", "LocalSubjectAccessReview", namespaced: true),
        Review("authentication.k8s.io", "tokenreviews", "TokenReview", namespaced: false),
        Rbac("roles", "Role", namespaced: true, binding: false),
        Rbac("clusterroles", "ClusterRole", namespaced: false, binding: false),
        Rbac("rolebindings", "RoleBinding", namespaced: true, binding: true),
        Rbac("clusterrolebindings", "ClusterRoleBinding", namespaced: false, binding: true),
        new ResourceType
        {
            Group = "apiextensions.k8s.io", Version = "v1", Plural = "customresourcedefinitions", Singular = "customresourcedefinition",
            Kind = "CustomResourceDefinition", Namespaced = false, ShortNames = ["crd", "crds"], Categories = ["api-extensions"], HasStatus = true,
            Strategy = new CrdStrategy(), Table = DefaultTable.Instance,
        },
    ];

    private static ResourceType Core(string plural, string singular, string kind, bool namespaced, string[] shortNames, IResourceStrategy strategy, ITableConvertor table,
        bool hasStatus = false, string[]? categories = null, Dictionary<string, Func<JsonObject, string?>>? fields = null) => new()
        {
            Group = string.Empty,
            Version = "v1",
            Plural = plural,
            Singular = singular,
            Kind = kind,
            Namespaced = namespaced,
            ShortNames = shortNames,
            Categories = categories ?? [],
            HasStatus = hasStatus,
            Strategy = strategy,
            Table = table,
            FieldSelectors = fields ?? [],
        };

    /// <summary>The review kinds: asked with a create, answered, never stored.</summary>
    private static ResourceType Review(string group, string plural, string kind, bool namespaced) => new()
    {
        Group = group, Version = "v1", Plural = plural, Singular = kind.ToLowerInvariant(), Kind = kind, Namespaced = namespaced, Verbs = ["create"],
    };

    private static ResourceType Apps(string plural, string kind, string[] shortNames, ITableConvertor table) => new()
    {
        Group = "apps",
        Version = "v1",
        Plural = plural,
        Singular = kind.ToLowerInvariant(),
        Kind = kind,
        Namespaced = true,
        ShortNames = shortNames,
        Categories = AllCategory,
        HasStatus = true,
        Strategy = new WorkloadStrategy(kind),
        Table = table,
    };

    /// <summary>rbac.authorization.k8s.io/v1 kinds (the real server names no singular or short names for them).</summary>
    private static ResourceType Rbac(string plural, string kind, bool namespaced, bool binding) => new()
    {
        Group = "rbac.authorization.k8s.io",
        Version = "v1",
        Plural = plural,
        Singular = kind.ToLowerInvariant(),
        Kind = kind,
        Namespaced = namespaced,
        Strategy = new RbacStrategy(clusterScoped: !namespaced, binding),
        Table = binding ? BindingTable() : DefaultTable.Instance,
    };

    private static LambdaTable BindingTable() => new(
        [
            TableColumns.Name,
            Col("Role", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error."),
            TableColumns.AgeColumn,
            Col("Users", "Users in the roleBinding", 1),
            Col("Groups", "Groups in the roleBinding", 1),
            Col("ServiceAccounts", "ServiceAccounts in the roleBinding", 1),
        ],
        (o, now) =>
        {
            var subjects = (o["subjects"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            string Of(string kind, Func<JsonObject, string> show) => string.Join(", ", subjects.Where(s => s.Str("kind") == kind).Select(show));
            return [Name(o), $"{o.Str("roleRef", "kind")}/{o.Str("roleRef", "name")}", Age(o, now),
                Of("User", s => s.Str("name") ?? string.Empty), Of("Group", s => s.Str("name") ?? string.Empty),
                Of("ServiceAccount", s => $"{s.Str("namespace")}/{s.Str("name")}")];
        });

    private static Dictionary<string, Func<JsonObject, string?>> EventFields() => new()
    {
        ["involvedObject.kind"] = o => o.Str("involvedObject", "kind") ?? o.Str("regarding", "kind"),
        ["involvedObject.name"] = o => o.Str("involvedObject", "name") ?? o.Str("regarding", "name"),
        ["involvedObject.namespace"] = o => o.Str("involvedObject", "namespace") ?? o.Str("regarding", "namespace"),
        ["involvedObject.uid"] = o => o.Str("involvedObject", "uid") ?? o.Str("regarding", "uid"),
        ["reason"] = o => o.Str("reason"),
        ["type"] = o => o.Str("type"),
    };

    private static Column Col(string name, string description = "", int priority = 0, string type = "string", string format = "") => new(name, type, format, description, priority);

    private static string Age(JsonObject o, DateTimeOffset now) => TableColumns.Age(o, now);

    private static string Name(JsonObject o) => o.Str("metadata", "name") ?? string.Empty;

    private static LambdaTable WebhookConfigurationTable() => new(
        [TableColumns.Name, Col("Webhooks", "Webhooks indicates the number of webhooks the configuration has.", type: "integer"), TableColumns.AgeColumn],
        (o, now) => [Name(o), (o["webhooks"] as JsonArray)?.Count ?? 0, Age(o, now)]);

    private static LambdaTable NamespaceTable() => new(
        [TableColumns.Name, Col("Status", "The status of the namespace"), TableColumns.AgeColumn],
        (o, now) => [Name(o), o.Str("status", "phase"), Age(o, now)]);

    private static LambdaTable NodeTable() => new(
        [
            TableColumns.Name, Col("Status", "The status of the node"), Col("Roles", "The roles of the node"), TableColumns.AgeColumn,
            Col("Version", "Kubelet Version reported by the node."), Col("Internal-IP", "List of internal IPs.", 1), Col("External-IP", "List of external IPs.", 1),
            Col("OS-Image", "OS Image reported by the node.", 1), Col("Kernel-Version", "Kernel Version reported by the node.", 1), Col("Container-Runtime", "Container Runtime Version.", 1),
        ],
        (o, now) =>
        {
            var conditions = o.At("status", "conditions") as JsonArray ?? [];
            var ready = conditions.OfType<JsonObject>().FirstOrDefault(c => c.Str("type") == "Ready")?.Str("status");
            var status = ready == "True" ? "Ready" : ready is null ? "Unknown" : "NotReady";
            if (o.At("spec", "unschedulable")?.GetValue<bool>() == true)
            {
                status += ",SchedulingDisabled";
            }

            var roles = (o.At("metadata", "labels") as JsonObject ?? [])
                .Where(kv => kv.Key.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal)).Select(kv => kv.Key["node-role.kubernetes.io/".Length..]).ToList();
            string Addr(string type) => string.Join(",", (o.At("status", "addresses") as JsonArray ?? []).OfType<JsonObject>().Where(a => a.Str("type") == type).Select(a => a.Str("address"))) is { Length: > 0 } s ? s : "<none>";
            return [Name(o), status, roles.Count == 0 ? "<none>" : string.Join(",", roles), Age(o, now), o.Str("status", "nodeInfo", "kubeletVersion") ?? string.Empty,
                Addr("InternalIP"), Addr("ExternalIP"), o.Str("status", "nodeInfo", "osImage") ?? "<unknown>", o.Str("status", "nodeInfo", "kernelVersion") ?? "<unknown>",
                o.Str("status", "nodeInfo", "containerRuntimeVersion") ?? "<unknown>"];
        });

    private static LambdaTable PodTable() => new(
        [
            TableColumns.Name, Col("Ready", "The aggregate readiness state of this pod for accepting traffic."), Col("Status", "The aggregate status of the containers in this pod."),
            Col("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", type: "string"),
            TableColumns.AgeColumn, Col("IP", "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", 1),
            Col("Node", "Name of the Node to which the pod is scheduled.", 1), Col("Nominated Node", "Name of the node that the scheduler nominated.", 1),
            Col("Readiness Gates", "Readiness gates of the pod.", 1),
        ],
        (o, now) =>
        {
            var containers = (o.At("spec", "containers") as JsonArray)?.Count ?? 0;
            var statuses = (o.At("status", "containerStatuses") as JsonArray ?? []).OfType<JsonObject>().ToList();
            var ready = statuses.Count(s => s["ready"]?.GetValue<bool>() == true);
            var restarts = statuses.Sum(s => s.Long("restartCount") ?? 0);
            var status = o.Str("status", "reason") ?? o.Str("status", "phase") ?? "Unknown";
            if (o.At("metadata", "deletionTimestamp") is not null)
            {
                status = "Terminating";
            }

            return [Name(o), $"{ready}/{containers}", status, restarts, Age(o, now), o.Str("status", "podIP") ?? "<none>", o.Str("spec", "nodeName") ?? "<none>",
                o.Str("status", "nominatedNodeName") ?? "<none>", "<none>"];
        });

    private static LambdaTable ServiceTable() => new(
        [
            TableColumns.Name, Col("Type", "type determines how the Service is exposed."), Col("Cluster-IP", "clusterIP is the IP address of the service."),
            Col("External-IP", "List of IP addresses for which nodes in the cluster will also accept traffic for this service."),
            Col("Port(s)", "The list of ports that are exposed by this service."), TableColumns.AgeColumn,
            Col("Selector", "Route service traffic to pods with label keys and values matching this selector.", 1),
        ],
        (o, now) =>
        {
            var spec = o.Obj("spec");
            var type = spec.Str("type") ?? "ClusterIP";
            var ingress = (o.At("status", "loadBalancer", "ingress") as JsonArray ?? []).OfType<JsonObject>().Select(i => i.Str("ip") ?? i.Str("hostname"));
            var external = ingress.Concat((spec["externalIPs"] as JsonArray ?? []).Select(e => e?.ToString())).Where(e => e is not null).ToList();
            var ext = external.Count > 0 ? string.Join(",", external) : type == "LoadBalancer" ? "<pending>" : type == "ExternalName" ? spec.Str("externalName") ?? "<none>" : "<none>";
            var ports = (spec["ports"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(p => p["nodePort"] is { } np ? $"{p["port"]}:{np}/{p.Str("protocol") ?? "TCP"}" : $"{p["port"]}/{p.Str("protocol") ?? "TCP"}").ToList();
            var selector = spec["selector"] is JsonObject sel && sel.Count > 0 ? string.Join(",", sel.Select(kv => $"{kv.Key}={kv.Value}")) : "<none>";
            return [Name(o), type, spec.Str("clusterIP") ?? "<none>", ext, ports.Count > 0 ? string.Join(",", ports) : "<none>", Age(o, now), selector];
        });

    private static LambdaTable EndpointsTable() => new(
        [TableColumns.Name, Col("Endpoints", "Endpoints is the list of endpoints."), TableColumns.AgeColumn],
        (o, now) =>
        {
            var eps = (o["subsets"] as JsonArray ?? []).OfType<JsonObject>()
                .SelectMany(s => (s["addresses"] as JsonArray ?? []).OfType<JsonObject>().SelectMany(a => (s["ports"] as JsonArray ?? []).OfType<JsonObject>().Select(p => $"{a.Str("ip")}:{p["port"]}"))).ToList();
            return [Name(o), eps.Count == 0 ? "<none>" : string.Join(",", eps.Take(3)) + (eps.Count > 3 ? $" + {eps.Count - 3} more..." : string.Empty), Age(o, now)];
        });

    private static LambdaTable ServiceAccountTable() => new(
        [TableColumns.Name, Col("Secrets", "Secrets is the list of secrets allowed to be used by pods running using this ServiceAccount.", type: "integer"), TableColumns.AgeColumn],
        (o, now) => [Name(o), (o["secrets"] as JsonArray)?.Count ?? 0, Age(o, now)]);

    private static LambdaTable ConfigMapTable() => new(
        [TableColumns.Name, Col("Data", "Number of data", type: "integer"), TableColumns.AgeColumn],
        (o, now) => [Name(o), ((o["data"] as JsonObject)?.Count ?? 0) + ((o["binaryData"] as JsonObject)?.Count ?? 0), Age(o, now)]);

    private static LambdaTable SecretTable() => new(
        [TableColumns.Name, Col("Type", "The type of the secret"), Col("Data", "The number of data items", type: "integer"), TableColumns.AgeColumn],
        (o, now) => [Name(o), o.Str("type") ?? "Opaque", (o["data"] as JsonObject)?.Count ?? 0, Age(o, now)]);

    private static LambdaTable EventTable() => new(
        [
            Col("Last Seen", "Time when this event was last seen."), Col("Type", "Type of this event."), Col("Reason", "Reason why this event was generated."),
            Col("Object", "The object this event is about."), Col("Subobject", "The subobject this event is about.", 1), Col("Source", "The source of this event.", 1),
            Col("Message", "A human-readable description of the event."), Col("First Seen", "Time when this event was first seen.", 1),
            Col("Count", "How many times this event happened.", 1), Col("Name", "Name of the event.", 1),
        ],
        (o, now) =>
        {
            var involved = o["involvedObject"] as JsonObject ?? o["regarding"] as JsonObject ?? new JsonObject();
            var last = JsonPath.ParseTimestamp(o.Str("lastTimestamp") ?? o.Str("deprecatedLastTimestamp") ?? o.Str("eventTime") ?? o.Str("metadata", "creationTimestamp"));
            var first = JsonPath.ParseTimestamp(o.Str("firstTimestamp") ?? o.Str("deprecatedFirstTimestamp") ?? o.Str("eventTime"));
            var source = o.Str("source", "component") ?? o.Str("reportingComponent") ?? o.Str("reportingController") ?? string.Empty;
            return [last is { } l ? TableColumns.HumanDuration(now - l) : "<unknown>", o.Str("type"), o.Str("reason"),
                $"{involved.Str("kind")?.ToLowerInvariant()}/{involved.Str("name")}", involved.Str("fieldPath") ?? string.Empty, source,
                o.Str("message") ?? o.Str("note"), first is { } f ? TableColumns.HumanDuration(now - f) : "<unknown>", o.Long("count") ?? o.Long("deprecatedCount") ?? 1, Name(o)];
        });

    private static LambdaTable EndpointSliceTable() => new(
        [TableColumns.Name, Col("AddressType", "The type of address."), Col("Ports", "Ports of the slice."), Col("Endpoints", "Endpoints of the slice."), TableColumns.AgeColumn],
        (o, now) =>
        {
            var ports = (o["ports"] as JsonArray ?? []).OfType<JsonObject>().Select(p => p["port"]?.ToString()).ToList();
            var addrs = (o["endpoints"] as JsonArray ?? []).OfType<JsonObject>().SelectMany(e => (e["addresses"] as JsonArray ?? []).Select(a => a?.ToString())).ToList();
            return [Name(o), o.Str("addressType"), ports.Count == 0 ? "<unset>" : string.Join(",", ports),
                addrs.Count == 0 ? "<unset>" : string.Join(",", addrs.Take(3)) + (addrs.Count > 3 ? $" + {addrs.Count - 3} more..." : string.Empty), Age(o, now)];
        });

    private static long Count(JsonObject o, params string[] path) => o.Long(path) ?? 0;

    /// <summary>The containers, images and selector columns the workload tables show with -o wide.</summary>
    private static Column[] WorkloadWide() =>
    [
        Col("Containers", "Names of each container in the template.", 1), Col("Images", "Images referenced by each container in the template.", 1),
        Col("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", 1),
    ];

    private static JsonNode?[] WorkloadWideCells(JsonObject o)
    {
        var containers = (o.At("spec", "template", "spec", "containers") as JsonArray ?? []).OfType<JsonObject>().ToList();
        var selector = o.At("spec", "selector") as JsonObject ?? new JsonObject();
        var parts = (selector["matchLabels"] as JsonObject ?? []).Select(kv => $"{kv.Key}={kv.Value}")
            .Concat((selector["matchExpressions"] as JsonArray ?? []).OfType<JsonObject>().Select(x =>
                $"{x.Str("key")} {x.Str("operator")?.ToLowerInvariant() switch { "in" => "in", "notin" => "notin", "exists" => string.Empty, _ => "!" }} ({string.Join(",", (x["values"] as JsonArray ?? []).Select(v => v?.ToString()))})"))
            .ToList();
        return [string.Join(",", containers.Select(c => c.Str("name"))), string.Join(",", containers.Select(c => c.Str("image"))), parts.Count == 0 ? "<none>" : string.Join(",", parts)];
    }

    private static LambdaTable DeploymentTable() => new(
        [
            TableColumns.Name, Col("Ready", "Number of the pod with ready state"), Col("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", type: "integer"),
            Col("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", type: "integer"), TableColumns.AgeColumn, .. WorkloadWide(),
        ],
        (o, now) => [Name(o), $"{Count(o, "status", "readyReplicas")}/{Count(o, "spec", "replicas")}", Count(o, "status", "updatedReplicas"), Count(o, "status", "availableReplicas"), Age(o, now), .. WorkloadWideCells(o)]);

    private static LambdaTable ReplicaSetTable() => new(
        [
            TableColumns.Name, Col("Desired", "Number of desired pods.", type: "integer"), Col("Current", "Number of actual replicas.", type: "integer"),
            Col("Ready", "Number of ready replicas.", type: "integer"), TableColumns.AgeColumn, .. WorkloadWide(),
        ],
        (o, now) => [Name(o), Count(o, "spec", "replicas"), Count(o, "status", "replicas"), Count(o, "status", "readyReplicas"), Age(o, now), .. WorkloadWideCells(o)]);

    private static LambdaTable DaemonSetTable() => new(
        [
            TableColumns.Name, Col("Desired", "The total number of nodes that should be running the daemon pod.", type: "integer"),
            Col("Current", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.", type: "integer"),
            Col("Ready", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.", type: "integer"),
            Col("Up-to-date", "The total number of nodes that are running updated daemon pod", type: "integer"),
            Col("Available", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.", type: "integer"),
            Col("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node."), TableColumns.AgeColumn, .. WorkloadWide(),
        ],
        (o, now) =>
        {
            var nodeSelector = o.At("spec", "template", "spec", "nodeSelector") as JsonObject ?? [];
            return [Name(o), Count(o, "status", "desiredNumberScheduled"), Count(o, "status", "currentNumberScheduled"), Count(o, "status", "numberReady"),
                Count(o, "status", "updatedNumberScheduled"), Count(o, "status", "numberAvailable"),
                nodeSelector.Count == 0 ? "<none>" : string.Join(",", nodeSelector.Select(kv => $"{kv.Key}={kv.Value}")), Age(o, now), .. WorkloadWideCells(o)];
        });

    private static LambdaTable DisruptionBudgetTable() => new(
        [
            TableColumns.Name, Col("Min Available", "The minimum number of pods that must be available."), Col("Max Unavailable", "The maximum number of pods that may be unavailable."),
            Col("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.", type: "integer"), TableColumns.AgeColumn,
        ],
        (o, now) => [Name(o), o.At("spec", "minAvailable")?.ToString() ?? "N/A", o.At("spec", "maxUnavailable")?.ToString() ?? "N/A", Count(o, "status", "disruptionsAllowed"), Age(o, now)]);

    private static LambdaTable PriorityClassTable() => new(
        [
            TableColumns.Name, Col("Value", "The value of this priority class.", type: "integer"),
            Col("Global-Default", "globalDefault specifies whether this PriorityClass should be considered as the default priority.", type: "boolean"),
            TableColumns.AgeColumn, Col("PreemptionPolicy", "PreemptionPolicy is the Policy for preempting pods with lower priority."),
        ],
        (o, now) => [Name(o), Count(o, "value"), o["globalDefault"]?.GetValue<bool>() == true, Age(o, now), o.Str("preemptionPolicy") ?? string.Empty]);

    private static LambdaTable LeaseTable() => new(
        [TableColumns.Name, Col("Holder", "The holder of the lease."), TableColumns.AgeColumn],
        (o, now) => [Name(o), o.Str("spec", "holderIdentity") ?? string.Empty, Age(o, now)]);
}
