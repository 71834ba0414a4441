#!/usr/bin/env bash
# Builds extip's OCI image from this checkout, with no container daemon and no registry:
#   the `extip` binary compiled for linux-x64 with Native AOT (invariant globalization), on a root
#   filesystem assembled from the shared libraries of Debian packages (libc6, libssl3: what the
#   binary loads; libnftables1 and its libraries: what the agent's connection chaining loads),
#   written as an OCI archive. --jit builds the self-contained trimmed JIT binary instead.
# One image for the controller (runs as 65532) and the agent (the DaemonSet runs it as uid 0 with
# NET_ADMIN and NET_RAW: Kubernetes gives added capabilities to uid 0 only).
#
# Reproducible: source paths are mapped to /src, file times are the commit's time, owners are 0, entries are sorted and gzip
# carries no name or time, so two builds of one commit (same SDK, same Debian packages) give the
# same digest.
#
# Usage: scripts/build-image.sh [--out DIR] [--tag TAG] [--jit]
# Prints, as its last line: {"image":"…oci.tar","digest":"sha256:…","sizeMb":…,"compressedMb":…}
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/.build/image"
tag=""
jit=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --jit) jit=1; shift ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done
cd "$root"
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
[ -n "$tag" ] || tag=$(git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  echo "build-image: the work tree has changes: the image is not that of commit $commit alone" >&2
fi

work="$out/work"
rm -rf "$work"
mkdir -p "$work/app" "$work/debs" "$work/rootfs" "$work/layout/blobs/sha256"

# 1. The binary, compiled ahead of time (Native AOT): no JIT, no IL, one file. Measured against
#    the self-contained trimmed JIT build (--jit, kept for comparison) in deploy/README.md.
#    extip's resources and the objects the daemons watch have compile-time serialization metadata
#    (Extip.Kubernetes/Models/ExtipJson.cs) and the informers read watch streams themselves
#    (Extip.Kubernetes/Client/ExtipKubernetes.cs), so KubernetesClient is trimmed; the project
#    file keeps extip's own assemblies whole when PublishAot is set, and has ILC leave out the
#    client's serializer (src/Extip.Cli/Aot.Substitutions.xml: the daemons read and write the API
#    with Extip.Kubernetes/Client/ApiRequests.cs).
if [ "$jit" = 1 ]; then
  mode=(-p:PublishTrimmed=true -p:TrimMode=partial --self-contained -p:UseSystemResourceKeys=true)
else
  # The runtime's pointer-rich data (method tables, frozen objects) is written into the binary as
  # it is used, not "dehydrated" (packed, and unpacked at every start into 16 MB of anonymous
  # memory), and the binary is linked at a fixed address, so that data needs no relocation at
  # load and stays clean file pages read as touched: the idle agent 52.9 -> 39.5 MB resident (21.8
  # -> 6.5 MB anonymous) for a binary 10 MB larger. Dehydration off in a position-independent
  # binary made it worse (72 MB, every pointer relocated at load). The cost: the executable itself
  # is not placed at a random address (its libraries, heap and stacks still are), as for the Go
  # binaries of the peers (MetalLB, kube-vip, kube-router), which are linked the same way.
  mode=(-p:PublishAot=true -p:StripSymbols=true -p:UseSystemResourceKeys=true -p:ExtipDaemons=true -p:IlcDehydrate=false -p:PositionIndependentExecutable=false)
fi
# The linked binary of an earlier build goes: a change of linker options alone (the fixed address
# above) does not make the SDK link again.
rm -f src/Extip.Cli/obj/Release/net10.0/linux-x64/native/extip
dotnet publish src/Extip.Cli/Extip.Cli.csproj -c Release -r linux-x64 "${mode[@]}" \
  -p:EnableTrimAnalyzer=false -p:SuppressTrimAnalysisWarnings=true -p:EnableAotAnalyzer=false -p:TreatWarningsAsErrors=false \
  -p:JsonSerializerIsReflectionEnabledByDefault=true \
  -p:InvariantGlobalization=true -p:UseAppHost=true -p:DebugType=none -p:DebugSymbols=false \
  -p:ServerGarbageCollection=false -p:ConcurrentGarbageCollection=false \
  -p:SourceRevisionId="$commit" -p:ContinuousIntegrationBuild=true -p:PathMap="$root=/src" \
  -o "$work/app" --nologo -v q -clp:ErrorsOnly >"$out/publish.log" 2>&1 || { cat "$out/publish.log" >&2; exit 1; }
# What a running daemon never loads: the debugger's libraries, the alternative GCs, LTTng tracing.
rm -f "$work/app"/libmscordaccore.so "$work/app"/libmscordbi.so "$work/app"/libclrgc.so \
      "$work/app"/libclrgcexp.so "$work/app"/libcoreclrtraceptprovider.so "$work/app"/createdump "$work/app"/*.pdb "$work/app"/*.dbg

# 2. The root filesystem: only the shared libraries of the Debian packages the runtime needs.
# libnftables1 and its libraries: the agent's connection chaining (Extip.Netlink.Nftables).
debs=(libc6 libssl3 libnftables1 libnftnl11 libmnl0 libxtables12 libjansson4 libgmp10)
[ "$jit" = 1 ] && debs+=(libgcc-s1 libstdc++6)
(cd "$work/debs" && apt-get download "${debs[@]}" >/dev/null 2>"$out/apt.log") || { cat "$out/apt.log" >&2; exit 1; }
versions=""
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/extract"
  versions+="$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version) "
done
fs="$work/rootfs"
mkdir -p "$fs/lib/x86_64-linux-gnu" "$fs/lib64" "$fs/etc" "$fs/tmp" "$fs/app" "$fs/proc" "$fs/sys" "$fs/dev"
# The JIT runtime (--jit) also loads libstdc++ and libgcc_s; the native binary needs neither.
runtime_libs=""
[ "$jit" = 1 ] && runtime_libs="libgcc_s.so.1 libstdc++.so.6"
for lib in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 \
           $runtime_libs libssl.so.3 libcrypto.so.3 \
           libnftables.so.1 libnftnl.so.11 libmnl.so.0 libxtables.so.12 libjansson.so.4 libgmp.so.10; do
  src=$(find "$work/extract" -name "$lib" \( -type f -o -type l \) | head -1)
  [ -n "$src" ] || { echo "build-image: $lib is in none of ${debs[*]}" >&2; exit 1; }
  cp -L "$src" "$fs/lib/x86_64-linux-gnu/$lib"
done
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$fs/lib64/ld-linux-x86-64.so.2"
mkdir -p "$fs/usr"
ln -s ../lib "$fs/usr/lib"
chmod 1777 "$fs/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nextip:x:65532:65532:extip:/nonexistent:/sbin/nologin\n' > "$fs/etc/passwd"
printf 'root:x:0:\nextip:x:65532:\n' > "$fs/etc/group"
printf 'hosts: files dns\n' > "$fs/etc/nsswitch.conf"
cp -a "$work/app/." "$fs/app/"
ln -s app/extip "$fs/extip"

# 3. One layer, reproducible.
find "$fs" -exec touch -h -d "@$epoch" {} +
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$fs" -cf "$work/layer.tar" .
gzip -n -9 -c "$work/layer.tar" > "$work/layer.tar.gz"

# 4. Config, manifest, index: an OCI image layout, then one archive of it.
/usr/bin/python3 - "$work" "$epoch" "$commit" "$tag" "$versions" <<'PY'
import hashlib, json, os, sys, datetime
work, epoch, commit, tag, versions = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5].split()
blobs = os.path.join(work, "layout", "blobs", "sha256")
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)
def canon(o):
    return json.dumps(o, sort_keys=True, separators=(",", ":")).encode()
layer = open(os.path.join(work, "layer.tar"), "rb").read()
diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
gz = open(os.path.join(work, "layer.tar.gz"), "rb").read()
layer_digest, layer_size = blob(gz)
created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
labels = {
    "org.opencontainers.image.title": "extip",
    "org.opencontainers.image.description": "External addresses for Services on bare-metal Kubernetes: controller and agent",
    "org.opencontainers.image.revision": commit,
    "org.opencontainers.image.version": tag,
    "org.opencontainers.image.created": created,
    "io.extip.debian-packages": " ".join(versions),
}
config = {
    "created": created,
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "User": "65532:65532",
        "Entrypoint": ["/app/extip"],
        "Cmd": ["--help"],
        "WorkingDir": "/",
        "Env": [
            "PATH=/app",
            # No diagnostics socket in /tmp: the root filesystem may be read-only.
            "DOTNET_EnableDiagnostics=0",
        ],
        "Labels": labels,
    },
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created": created, "created_by": "scripts/build-image.sh " + commit}],
}
config_digest, config_size = blob(canon(config))
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}],
    "annotations": labels,
}
manifest_digest, manifest_size = blob(canon(manifest))
index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest, "size": manifest_size,
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"org.opencontainers.image.ref.name": "extip:" + tag},
    }],
}
open(os.path.join(work, "layout", "index.json"), "wb").write(canon(index))
open(os.path.join(work, "layout", "oci-layout"), "wb").write(canon({"imageLayoutVersion": "1.0.0"}))
open(os.path.join(work, "digest"), "w").write(manifest_digest)
open(os.path.join(work, "sizes"), "w").write(f"{len(layer)} {len(gz)}\n")
PY
find "$work/layout" -exec touch -h -d "@$epoch" {} +
archive="$out/extip-$tag.oci.tar"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$work/layout" -cf "$archive" .
ln -sfn "$(basename "$archive")" "$out/extip.oci.tar"
# The unpacked root filesystem stays for those who run it without a container runtime.
rm -rf "$out/rootfs" && mv "$fs" "$out/rootfs"
digest=$(cat "$work/digest")
read -r size gzsize < "$work/sizes"
rm -rf "$work"
echo "build-image: $archive ($tag, $digest)" >&2
# The same line in $out/build.json: `extip bench footprint --prebuilt` measures this build again.
printf '{"image":"%s","tag":"%s","digest":"%s","sizeMb":%s,"compressedMb":%s}\n' "$archive" "$tag" "$digest" \
  "$(awk "BEGIN{printf \"%.1f\", $size/1048576}")" "$(awk "BEGIN{printf \"%.1f\", $gzsize/1048576}")" | tee "$out/build.json"
