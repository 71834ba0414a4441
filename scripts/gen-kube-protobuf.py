#!/usr/bin/env python3
"""Generates the embedded server's protobuf schema from Kubernetes' own definitions.

Kubernetes' built-in kinds travel as protobuf (application/vnd.kubernetes.protobuf) between
kubectl, client-go and kube-apiserver. Their messages are defined in the generated.proto files of
Debian's `kubernetes` source package (the one tools/real-apiserver builds kube-apiserver from);
how a message maps to JSON is in the Go types beside them (json names, inline structs, which
fields are pointers or lack omitempty, which types are Go slices). This script compiles the first
with protoc into a FileDescriptorSet and reads the second into a small JSON file:

    src/Extip.ApiServer/Protobuf/kubernetes.protoset   (protoc --descriptor_set_out --include_imports)
    src/Extip.ApiServer/Protobuf/kubernetes-json.json  (per message: field -> json name, keepZero, inline)
    src/Extip.ApiServer/Protobuf/openapiv2.protoset    (gnostic's OpenAPIv2.proto, for /openapi/v2)

Usage: scripts/gen-kube-protobuf.py SRC_DIR
  SRC_DIR: the unpacked source package (holding staging/src/k8s.io). To fetch it:
    apt-get source --download-only kubernetes && dpkg-source -x kubernetes_*.dsc k8s
  (tools/real-apiserver/build.sh shows how to enable deb-src lines without touching the system's).
Needs protoc (Debian: protobuf-compiler).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

# The API packages whose kinds the embedded server serves (plus what they import).
PACKAGES = [
    "k8s.io/api/core/v1",
    "k8s.io/api/apps/v1",
    "k8s.io/api/rbac/v1",
    "k8s.io/api/coordination/v1",
    "k8s.io/api/events/v1",
    "k8s.io/api/admissionregistration/v1",
    "k8s.io/api/authorization/v1",
    "k8s.io/api/authentication/v1",
    "k8s.io/api/scheduling/v1",
    "k8s.io/api/policy/v1beta1",
    "k8s.io/api/discovery/v1beta1",
    "k8s.io/apimachinery/pkg/apis/meta/v1",
    "k8s.io/apimachinery/pkg/runtime",
    "k8s.io/apimachinery/pkg/runtime/schema",
    "k8s.io/apimachinery/pkg/util/intstr",
    "k8s.io/apimachinery/pkg/api/resource",
]

LATER = {
    "ServiceSpec": [("loadBalancerClass", 21), ("internalTrafficPolicy", 22), ("trafficDistribution", 23)],
    "LoadBalancerIngress": [("ipMode", 3)],
}

FIELD = re.compile(r'^\s*(?:(\w+)\s+)?([\*\[\]\w\.]+)\s+`([^`]*)`')
TAG = re.compile(r'(\w+):"([^"]*)"')


def go_fields(pkg_dir):
    """message name -> {proto field name: {json, keepZero, inline}} from the package's Go types."""
    out, wrappers = {}, []
    for name in sorted(os.listdir(pkg_dir)):
        if not name.endswith(".go") or name.endswith("_test.go") or name.startswith("zz_generated"):
            continue
        struct = None
        for line in open(os.path.join(pkg_dir, name), encoding="utf-8"):
            m = re.match(r'^type (\w+) struct \{', line)
            if m:
                struct = m.group(1)
                continue
            m = re.match(r'^type (\w+) \[\]\w+\s*$', line)
            if m:
                wrappers.append(m.group(1))
                continue
            if line.startswith("}"):
                struct = None
                continue
            if struct is None:
                continue
            m = FIELD.match(line)
            if not m:
                continue
            tags = dict(TAG.findall(m.group(3)))
            if "protobuf" not in tags:
                continue
            proto_name = next((p[5:] for p in tags["protobuf"].split(",") if p.startswith("name=")), None)
            if proto_name is None:
                continue
            json_parts = tags.get("json", "").split(",")
            go_type = m.group(2)
            info = {}
            if json_parts[0] == "" and "inline" in json_parts[1:]:
                info["inline"] = True
            elif json_parts[0] not in ("", proto_name):
                info["json"] = json_parts[0]
            if go_type.startswith("*") or "omitempty" not in json_parts[1:]:
                info["keepZero"] = True
            if info:
                out.setdefault(struct, {})[proto_name] = info
    return out, wrappers


def main():
    src = os.path.join(sys.argv[1], "staging", "src")
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.path.join(here, "..", "src", "Extip.ApiServer", "Protobuf")
    os.makedirs(target, exist_ok=True)
    protos = [f"{p}/generated.proto" for p in PACKAGES]
    with tempfile.TemporaryDirectory() as later:
        # Fields added after v1.20 that the embedded server serves, with the numbers they were
        # given upstream (ServiceSpec 21-23: v1.21-v1.30; LoadBalancerIngress.ipMode 3: v1.29).
        core = os.path.join(later, "k8s.io", "api", "core", "v1")
        os.makedirs(core)
        text = open(os.path.join(src, "k8s.io/api/core/v1/generated.proto"), encoding="utf-8").read()
        for message, added in LATER.items():
            head = f"message {message} {{\n"
            assert head in text, message
            text = text.replace(head, head + "".join(f"  optional string {n} = {num};\n" for n, num in added), 1)
        open(os.path.join(core, "generated.proto"), "w", encoding="utf-8").write(text)
        subprocess.run(["protoc", f"-I{later}", f"-I{src}", "--include_imports", "--descriptor_set_out",
                        os.path.join(target, "kubernetes.protoset"), *protos], check=True)
    # OpenAPI v2 as kubectl up to 1.2x fetches it (/openapi/v2 in protobuf): gnostic's messages.
    gnostic = os.path.join(sys.argv[1], "vendor", "github.com", "googleapis", "gnostic")
    subprocess.run(["protoc", f"-I{gnostic}", "--include_imports", "--descriptor_set_out",
                    os.path.join(target, "openapiv2.protoset"), "openapiv2/OpenAPIv2.proto"], check=True)
    fields = {}
    for p in PACKAGES:
        package = p.replace("/", ".")
        per, wrappers = go_fields(os.path.join(src, p))
        for message, f in per.items():
            fields[f"{package}.{message}"] = f
        if package == "k8s.io.api.core.v1":
            for message, added in LATER.items():
                for n, _ in added:
                    fields.setdefault(f"{package}.{message}", {})[n] = {"keepZero": True}  # all *string in Go
        for w in wrappers:
            fields.setdefault(f"{package}.{w}", {})["$slice"] = True
    with open(os.path.join(target, "kubernetes-json.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "kubernetes 1.20.2 (Debian source package), generated by scripts/gen-kube-protobuf.py",
                   "messages": dict(sorted(fields.items()))}, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    main()
