#!/usr/bin/env python3
"""A second client library for the conformance suite (issue 12): Debian's python3-kubernetes.

Usage: python_conformance.py KUBECONFIG NAMESPACE
Creates, lists (with a label selector and in pages), patches and deletes ConfigMaps, then
watches from the first version it saw, as the library does it (watch=True, timeoutSeconds).
Prints one JSON line of what it saw.
"""
import json
import sys

from kubernetes import client, config, watch


def main():
    kubeconfig, ns = sys.argv[1], sys.argv[2]
    config.load_kube_config(config_file=kubeconfig)
    v1 = client.CoreV1Api()
    out = {}
    labels = {"from": "python"}
    a = v1.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="py-a", labels=labels), data={"k": "v"}))
    out["created"] = a.metadata.name
    since = a.metadata.resource_version
    v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-b", labels=labels)))
    v1.patch_namespaced_config_map("py-a", ns, {"data": {"k": "patched"}})
    out["patched"] = v1.read_namespaced_config_map("py-a", ns).data["k"]
    out["listed"] = sorted(i.metadata.name for i in v1.list_namespaced_config_map(ns, label_selector="from=python").items)

    pages, token = [], None
    while True:
        page = v1.list_namespaced_config_map(ns, label_selector="from=python", limit=1, _continue=token)
        pages.append([i.metadata.name for i in page.items])
        token = page.metadata._continue
        if not token:
            break
    out["pages"] = pages

    v1.delete_namespaced_config_map("py-b", ns)
    events = []
    w = watch.Watch()
    for e in w.stream(v1.list_namespaced_config_map, ns, label_selector="from=python",
                      resource_version=since, timeout_seconds=10):
        events.append([e["type"], e["object"].metadata.name])
        if len(events) == 3:
            w.stop()
    out["events"] = events

    try:
        v1.read_namespaced_config_map("py-b", ns)
        out["readDeleted"] = 200
    except client.rest.ApiException as e:
        out["readDeleted"] = e.status
    print(json.dumps(out))


if __name__ == "__main__":
    main()
