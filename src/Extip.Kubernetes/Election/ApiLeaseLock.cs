using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using k8s.Models;
using Extip.Kubernetes.Client;

namespace Extip.Kubernetes.Election;

/// <summary>
/// Leader election's lock on a coordination.k8s.io/v1 Lease, read and written through
/// <see cref="ApiRequests"/>: the same object and fields as KubernetesClient's <c>LeaseLock</c>, without
/// the client's generated operations (and with them its serializer for every kind of the API).
/// </summary>
public sealed class ApiLeaseLock(IKubernetes client, string @namespace, string name, string identity)
    : MetaObjectLock<V1Lease>(client, @namespace, name, identity)
{
    /// <summary>The duration a Lease that gives none is held for, as client-go assumes.</summary>
    private const int DefaultDurationSeconds = 15;

    protected override Task<V1Lease> ReadMetaObjectAsync(IKubernetes client, string name, string namespaceParameter, CancellationToken cancellationToken) =>
        client.GetAsync<V1Lease>(Path(namespaceParameter, name), cancellationToken);

    protected override Task<V1Lease> CreateMetaObjectAsync(IKubernetes client, V1Lease obj, string namespaceParameter, CancellationToken cancellationToken) =>
        client.CreateAsync(Path(namespaceParameter), obj, cancellationToken);

    protected override Task<V1Lease> ReplaceMetaObjectAsync(IKubernetes client, V1Lease obj, string name, string namespaceParameter, CancellationToken cancellationToken) =>
        client.ReplaceAsync(Path(namespaceParameter, name), obj, cancellationToken);

    protected override LeaderElectionRecord GetLeaderElectionRecord(V1Lease obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var spec = obj.Spec ?? new V1LeaseSpec();
        return new LeaderElectionRecord
        {
            HolderIdentity = spec.HolderIdentity,
            AcquireTime = spec.AcquireTime,
            RenewTime = spec.RenewTime,
            LeaseDurationSeconds = spec.LeaseDurationSeconds ?? DefaultDurationSeconds,
            LeaderTransitions = spec.LeaseTransitions ?? 0,
        };
    }

    protected override V1Lease SetLeaderElectionRecord(LeaderElectionRecord record, V1Lease metaObj)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(metaObj);
        metaObj.Spec = new V1LeaseSpec
        {
            HolderIdentity = record.HolderIdentity,
            AcquireTime = record.AcquireTime,
            RenewTime = record.RenewTime,
            LeaseDurationSeconds = record.LeaseDurationSeconds,
            LeaseTransitions = record.LeaderTransitions,
        };
        return metaObj;
    }

    private static string Path(string ns, string? name = null) => ApiPath.Group("coordination.k8s.io/v1", "leases", ns, name);
}
