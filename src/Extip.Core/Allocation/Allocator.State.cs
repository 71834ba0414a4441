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

        /// <summary>Usually one; a field, since <see cref="HolderSet"/> is a mutable struct.</summary>
        public HolderSet Holders;

        public ServiceKey? ReservedFor { get; set; }
    }

    /// <summary>What one Service holds, and the request it was decided for.</summary>
    private sealed class Holding(ServiceKey key, ServiceRequest request)
    {
        public ServiceKey Key { get; } = key;

        public ServiceRequest Request { get; set; } = request;

        /// <summary>Replaced whole on every change, never mutated, so results may hand it out.</summary>
        public Assignment[] LoadBalancer { get; set; } = NoAssignments;

        public Assignment[] External { get; set; } = NoAssignments;

        public bool HoldsAny => LoadBalancer.Length > 0 || External.Length > 0;
    }

    private static readonly Assignment[] NoAssignments = [];

    /// <summary>
    /// The Services holding one address: nearly always one, so it is stored inline and only
    /// sharing allocates a list. Keeping per-address objects few matters: 100,000 Services
    /// mean 100,000 long-lived entries for the garbage collector to promote.
    /// </summary>
    private struct HolderSet
    {
        private Holding? _first;
        private List<Holding>? _rest;

        public readonly int Count => (_first is null ? 0 : 1) + (_rest?.Count ?? 0);

        public readonly Holding this[int index] => index == 0 ? _first! : _rest![index - 1];

        public readonly bool Contains(Holding h) => ReferenceEquals(_first, h) || (_rest?.Contains(h) ?? false);

        public void Add(Holding h)
        {
            if (_first is null)
            {
                _first = h;
            }
            else
            {
                (_rest ??= []).Add(h);
            }
        }

        public void Remove(Holding h)
        {
            if (!ReferenceEquals(_first, h))
            {
                _rest?.Remove(h);
                return;
            }

            if (_rest is { Count: > 0 })
            {
                _first = _rest[^1];
                _rest.RemoveAt(_rest.Count - 1);
            }
            else
            {
                _first = null;
            }
        }

        public readonly bool Any(Func<Holding, bool> predicate)
        {
            for (var i = 0; i < Count; i++)
            {
                if (predicate(this[i]))
                {
                    return true;
                }
            }

            return false;
        }

        public readonly List<ServiceKey> Keys()
        {
            var keys = new List<ServiceKey>(Count);
            for (var i = 0; i < Count; i++)
            {
                keys.Add(this[i].Key);
            }

            return keys;
        }
    }

    private sealed record Reservation(List<Address> Addresses, DateTimeOffset Until);

    /// <summary>An address chosen for a Service but not yet committed.</summary>
    private readonly record struct Pick(Address Address, PoolState? Pool);
}
