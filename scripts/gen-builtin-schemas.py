#!/usr/bin/env python3
"""Generates src/Extip.ApiServer/Schemas/builtin-schemas.json from a real kube-apiserver's
/openapi/v2 document: the structure (types, $refs, list and map rules) and descriptions (for
kubectl explain) of the built-in kinds the embedded server serves, plus the fields added after
v1.20 that extip uses.

Usage: scripts/gen-builtin-schemas.py OPENAPI_V2_JSON > src/Extip.ApiServer/Schemas/builtin-schemas.json
(fetch it with: curl -sk -H "Authorization: Bearer $TOKEN" https://127.0.0.1:6443/openapi/v2)
"""
import json
import sys

ROOTS = {
    "io.k8s.api.core.v1.Namespace": ("", "v1", "Namespace"),
    "io.k8s.api.core.v1.Node": ("", "v1", "Node"),
    "io.k8s.api.core.v1.Pod": ("", "v1", "Pod"),
    "io.k8s.api.core.v1.Service": ("", "v1", "Service"),
    "io.k8s.api.core.v1.Endpoints": ("", "v1", "Endpoints"),
    "io.k8s.api.core.v1.ConfigMap": ("", "v1", "ConfigMap"),
    "io.k8s.api.core.v1.Secret": ("", "v1", "Secret"),
    "io.k8s.api.core.v1.Event": ("", "v1", "Event"),
    "io.k8s.api.core.v1.ServiceAccount": ("", "v1", "ServiceAccount"),
    "io.k8s.api.events.v1.Event": ("events.k8s.io", "v1", "Event"),
    "io.k8s.api.discovery.v1beta1.EndpointSlice": ("discovery.k8s.io", "v1", "EndpointSlice"),
    "io.k8s.api.coordination.v1.Lease": ("coordination.k8s.io", "v1", "Lease"),
    "io.k8s.api.rbac.v1.Role": ("rbac.authorization.k8s.io", "v1", "Role"),
    "io.k8s.api.rbac.v1.ClusterRole": ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
    "io.k8s.api.rbac.v1.RoleBinding": ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
    "io.k8s.api.rbac.v1.ClusterRoleBinding": ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition":
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
    "io.k8s.api.apps.v1.Deployment": ("apps", "v1", "Deployment"),
    "io.k8s.api.apps.v1.DaemonSet": ("apps", "v1", "DaemonSet"),
    "io.k8s.api.apps.v1.ReplicaSet": ("apps", "v1", "ReplicaSet"),
    "io.k8s.api.policy.v1beta1.PodDisruptionBudget": ("policy", "v1", "PodDisruptionBudget"),
    "io.k8s.api.scheduling.v1.PriorityClass": ("scheduling.k8s.io", "v1", "PriorityClass"),
    "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration":
        ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"),
    "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration":
        ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration"),
}
KEEP = {"description", "type", "format", "items", "properties", "additionalProperties", "$ref", "required", "enum",
        "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type",
        "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy", "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource"}


def strip(schema):
    """Keeps the structural keys of a schema; property names are kept whatever they are."""
    out = {}
    for k, v in schema.items():
        if k not in KEEP:
            continue
        if k == "properties":
            out[k] = {name: strip(prop) for name, prop in v.items()}
        elif k in ("items", "additionalProperties") and isinstance(v, dict):
            out[k] = strip(v)
        else:
            out[k] = v
    return out


def refs(schema, out):
    ref = schema.get("$ref")
    if isinstance(ref, str):
        out.add(ref.split("/")[-1])
    for prop in schema.get("properties", {}).values():
        refs(prop, out)
    for k in ("items", "additionalProperties"):
        if isinstance(schema.get(k), dict):
            refs(schema[k], out)


def main():
    defs = json.load(open(sys.argv[1]))["definitions"]
    todo, seen = list(ROOTS), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found = set()
        refs(defs[name], found)
        todo.extend(found - seen)
    out = {name: strip(defs[name]) for name in sorted(seen)}

    # Fields added after v1.20 that extip's clients send or the embedded server writes.
    svc = out["io.k8s.api.core.v1.ServiceSpec"]["properties"]
    svc["loadBalancerClass"] = {"type": "string"}
    svc["internalTrafficPolicy"] = {"type": "string"}
    svc["trafficDistribution"] = {"type": "string"}
    out["io.k8s.api.core.v1.LoadBalancerIngress"]["properties"]["ipMode"] = {"type": "string"}
    # The server itself writes it (a status write's entry says "status"), as kube-apiserver 1.22+ does.
    out["io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry"]["properties"]["subresource"] = {"type": "string"}
    ep = out["io.k8s.api.discovery.v1beta1.Endpoint"]["properties"]
    ep.pop("topology", None)
    ep["zone"] = {"type": "string"}
    ep["deprecatedTopology"] = {"type": "object", "additionalProperties": {"type": "string"}}
    ep["hints"] = {"type": "object", "properties": {"forZones": {"type": "array", "items": {
        "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}}
    props = out["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"]["properties"]
    props["x-kubernetes-validations"] = {"type": "array", "items": {"type": "object", "properties": {
        "rule": {"type": "string"}, "message": {"type": "string"}, "messageExpression": {"type": "string"},
        "reason": {"type": "string"}, "fieldPath": {"type": "string"}, "optionalOldSelf": {"type": "boolean"}}}}
    out["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec"]["properties"][
        "selectableFields"] = {"type": "array", "items": {"type": "object", "properties": {"jsonPath": {"type": "string"}}}}

    roots = {name: {"group": g, "version": v, "kind": k} for name, (g, v, k) in ROOTS.items()}
    json.dump({"roots": roots, "definitions": out}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


main()
