#!/bin/bash
# The daemons' logic tests (virtual time, in-memory pipes, recording seams, the embedded API
# server on loopback), run as user nobody: no root, no capabilities, no kernel. Prints each
# project's result and the seconds they took. Build first (dotnet build -c Release).
set -euo pipefail
home=$(mktemp -d /tmp/extip-unit-XXXX); chmod 777 "$home"
trap 'rm -rf "$home"' EXIT
cd "$(dirname "$0")/../test"
run() { (cd $1 && setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$home" DOTNET_CLI_HOME="$home" dotnet test -c Release --no-build --filter "$2" --results-directory "$home"/r 2>&1 | grep -E "Passed!|Failed!"); }
start=$SECONDS
run Extip.Controller.Tests "FullyQualifiedName~LivenessTrackerTests|FullyQualifiedName~AllocationStateTests|FullyQualifiedName~ServiceMappingTests|FullyQualifiedName~AgentObservationsTests|FullyQualifiedName~NodeSignalsTests|FullyQualifiedName~NodeDampingTests|FullyQualifiedName~DeadLinksTests"
run Extip.Bgp.Tests "FullyQualifiedName~SessionFsmTests"
run Extip.Agent.Tests "FullyQualifiedName~PassOrderTests|FullyQualifiedName~ChainingTests|FullyQualifiedName~HandoverTests"
run Extip.Core.Tests "FullyQualifiedName~Concurrency"
run Extip.Kubernetes.Tests "FullyQualifiedName~ConditionsTests|FullyQualifiedName~IpClaimModeTests|FullyQualifiedName~WorkQueueTests"
echo "seconds: $((SECONDS - start))"
