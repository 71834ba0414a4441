using Extip.Core.Addresses;
using Extip.Core.Pools;

namespace Extip.Core.Allocation;

public sealed partial class Allocator
{
    /// <summary>Free lists and use counts of one pool.</summary>
    private sealed class PoolState
    {
        public PoolState(Pool pool)
        {
            Pool = pool;
            foreach (var r in pool.Ranges)
            {
                (r.Family == IpFamily.IPv4 ? V4 : V6).AddRange(r.First.Value, r.Last.Value);
            }
        }

        public Pool Pool { get; }

        public FreeRanges V4 { get; } = new();

        public FreeRanges V6 { get; } = new();

        public long InUseV4 { get; set; }

        public long InUseV6 { get; set; }

        public FreeRanges Free(IpFamily f) => f == IpFamily.IPv4 ? V4 : V6;

        public bool AvoidBuggy(IpFamily f) => f == IpFamily.IPv4 && Pool.Spec.AvoidBuggyIPs;

        public void Count(IpFamily f, int delta)
        {
            if (f == IpFamily.IPv4)
            {
                InUseV4 += delta;
            }
            else
            {
                InUseV6 += delta;
            }
        }
    }

    /// <summary>An address that is not free: held by one or more Services, or kept for a deleted one.</summary>
    private sealed class AddressEntry(Address address)
    {
        public Address Address { get; } = address;

        public PoolState? Pool { get; set; }

        public List<Holding> Holders { get; } = new(1);

        public ServiceKey? ReservedFor { get; set; }
    }

    /// <summary>What one Service holds, and the request it was decided for.</summary>
    private sealed class Holding(ServiceKey key, ServiceRequest request)
    {
        public ServiceKey Key { get; } = key;

        public ServiceRequest Request { get; set; } = request;

        /// <summary>Replaced whole on every change, never mutated, so results may hand it out.</summary>
        public List<Assignment> LoadBalancer { get; set; } = NoAssignments;

        public List<Assignment> External { get; set; } = NoAssignments;

        public bool HoldsAny => LoadBalancer.Count > 0 || External.Count > 0;
    }

    private static readonly List<Assignment> NoAssignments = [];

    private sealed record Reservation(List<Address> Addresses, DateTimeOffset Until);

    /// <summary>An address chosen for a Service but not yet committed.</summary>
    private readonly record struct Pick(Address Address, PoolState? Pool);
}
