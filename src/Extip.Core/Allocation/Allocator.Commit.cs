using Extip.Core.Addresses;

namespace Extip.Core.Allocation;

public sealed partial class Allocator
{
    private bool Commit(ServiceRequest req, Holding? holding, List<Pick> lb, List<Pick> ext, out Holding committed)
    {
        var newLb = ToAssignments(lb);
        var newExt = ToAssignments(ext);
        if (holding is null)
        {
            holding = new Holding(req.Key, req);
            _services[req.Key] = holding;
        }
        else if (holding.LoadBalancer.SequenceEqual(newLb) && holding.External.SequenceEqual(newExt) && holding.Request == req)
        {
            committed = holding;
            return false;
        }

        var changed = !holding.LoadBalancer.SequenceEqual(newLb) || !holding.External.SequenceEqual(newExt);
        // Every step below is idempotent, so an address held both as load-balancer address and as
        // external IP may safely be visited twice.
        var (oldLb, oldExt) = (holding.LoadBalancer, holding.External);
        RemoveHolder(oldLb, holding);
        RemoveHolder(oldExt, holding);
        holding.Request = req;
        holding.LoadBalancer = newLb;
        holding.External = newExt;
        AddHolder(lb, holding);
        AddHolder(ext, holding);
        Unclaim(oldLb);
        Unclaim(oldExt);
        committed = holding;
        return changed;
    }

    private void RemoveHolder(Assignment[] held, Holding holding)
    {
        foreach (var x in held)
        {
            RemoveHolder(_addresses[x.Address], holding);
        }
    }

    private void AddHolder(List<Pick> picks, Holding holding)
    {
        foreach (var p in picks)
        {
            var entry = Claim(p.Address, p.Pool);
            if (entry.ReservedFor is { } owner)
            {
                TakeFromReservation(owner, p.Address);
                entry.ReservedFor = null;
            }

            AddHolder(entry, holding);
        }
    }

    private void Unclaim(Assignment[] held)
    {
        foreach (var x in held)
        {
            if (_addresses.TryGetValue(x.Address, out var e))
            {
                Unclaim(e);
            }
        }
    }

    private Assignment[] ToAssignments(List<Pick> picks)
    {
        if (picks.Count == 0)
        {
            return NoAssignments;
        }

        var list = new Assignment[picks.Count];
        for (var i = 0; i < list.Length; i++)
        {
            list[i] = ToAssignment(picks[i]);
        }

        return list;
    }

    private Assignment ToAssignment(Pick p) =>
        new(p.Address, p.Pool?.Pool.Name, p.Pool?.Pool.PrefixLength(p.Address.Family, _options.Mask, _options.MaskV6)
            ?? (p.Address.Family == IpFamily.IPv4 ? _options.Mask : _options.MaskV6));

    private bool ReleaseInternal(ServiceKey key, bool sticky)
    {
        if (!_services.Remove(key, out var holding))
        {
            return false;
        }

        var kept = new List<Address>();
        RemoveHolder(holding.LoadBalancer, holding);
        RemoveHolder(holding.External, holding);
        if (sticky && _options.StickyGrace > TimeSpan.Zero)
        {
            foreach (var x in holding.LoadBalancer)
            {
                var entry = _addresses[x.Address];
                if (entry.Pool is not null && entry.Holders.Count == 0)
                {
                    entry.ReservedFor = key;
                    kept.Add(x.Address);
                }
            }
        }

        Unclaim(holding.LoadBalancer);
        Unclaim(holding.External);

        if (kept.Count > 0)
        {
            if (_sticky.Remove(key, out var previous))
            {
                foreach (var a in previous.Addresses)
                {
                    if (_addresses.TryGetValue(a, out var e) && e.ReservedFor == key && !kept.Contains(a))
                    {
                        DropReservation(e);
                    }
                }
            }

            var until = _time.GetUtcNow() + _options.StickyGrace;
            _sticky[key] = new Reservation(kept, until);
            _stickyExpiry.Enqueue(key, until);
        }

        return true;
    }

    private AddressEntry Claim(Address a, PoolState? pool)
    {
        if (_addresses.TryGetValue(a, out var entry))
        {
            return entry;
        }

        entry = new AddressEntry(a) { Pool = pool };
        _addresses[a] = entry;
        if (pool is not null)
        {
            pool.Free(a.Family).TryTake(a.Value);
            pool.Count(a.Family, +1);
        }

        return entry;
    }

    /// <summary>Frees the address when nobody holds it and it is not kept for a deleted Service.</summary>
    private void Unclaim(AddressEntry entry)
    {
        if (entry.Holders.Count > 0 || entry.ReservedFor is not null)
        {
            return;
        }

        _addresses.Remove(entry.Address);
        if (entry.Pool is { } pool)
        {
            pool.Free(entry.Address.Family).Release(entry.Address.Value);
            pool.Count(entry.Address.Family, -1);
        }
    }

    private void AddHolder(AddressEntry entry, Holding holding)
    {
        if (entry.Holders.Contains(holding))
        {
            return;
        }

        entry.Holders.Add(holding);
        if (holding.Request.SharingKey is { } key)
        {
            if (!_bySharingKey.TryGetValue(key, out var set))
            {
                _bySharingKey[key] = set = [];
            }

            set.Add(entry.Address);
        }
    }

    private void RemoveHolder(AddressEntry entry, Holding holding)
    {
        entry.Holders.Remove(holding);
        if (holding.Request.SharingKey is { } key && !entry.Holders.Any(h => h.Request.SharingKey == key)
            && _bySharingKey.TryGetValue(key, out var set))
        {
            set.Remove(entry.Address);
            if (set.Count == 0)
            {
                _bySharingKey.Remove(key);
            }
        }
    }

    private void TakeFromReservation(ServiceKey owner, Address a)
    {
        if (_sticky.TryGetValue(owner, out var res))
        {
            res.Addresses.Remove(a);
            if (res.Addresses.Count == 0)
            {
                _sticky.Remove(owner);
            }
        }
    }

    private void DropReservation(AddressEntry entry)
    {
        if (entry.ReservedFor is { } owner)
        {
            TakeFromReservation(owner, entry.Address);
            entry.ReservedFor = null;
        }

        Unclaim(entry);
    }

    private void ExpireReservations()
    {
        if (_stickyExpiry.Count == 0)
        {
            return;
        }

        var now = _time.GetUtcNow();
        while (_stickyExpiry.TryPeek(out var key, out var until) && until <= now)
        {
            _stickyExpiry.Dequeue();
            if (!_sticky.TryGetValue(key, out var res) || res.Until != until)
            {
                continue;
            }

            _sticky.Remove(key);
            foreach (var a in res.Addresses)
            {
                if (_addresses.TryGetValue(a, out var e) && e.ReservedFor == key)
                {
                    e.ReservedFor = null;
                    Unclaim(e);
                }
            }
        }
    }
}
