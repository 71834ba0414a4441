using Extip.Netlink;
using Extip.Netlink.Wire;

namespace Extip.Agent;

/// <summary>The agent's loops: the Lease (renewed only while the agent can act), the kernel's changes, and the passes (woken by changes, the resync, and the Lease's end).</summary>
public sealed partial class ExtipAgent
{
    private async Task LeaseLoopAsync(CancellationToken ct)
    {
        var failingLogged = false;
        string? notActing = null;
        while (!ct.IsCancellationRequested)
        {
            bool renewed;

            // A Lease says "give me claims": only renewed while the agent can act on them.
            var why = CannotAct();
            if (why != notActing)
            {
                if (why is not null)
                {
                    LogNotRenewing(_logger, why);
                }

                notActing = why;
            }

            if (why is not null)
            {
                // Asked again a quarter interval later, or as soon as the first list of the
                // claims is in (what holds a starting agent back from Ready).
                var delay = Task.Delay(_options.RenewInterval / 4, _options.Time, ct);
                await Task.WhenAny(delay, _claims.IsReady ? delay : _claims.ReadyAsync(ct)).ConfigureAwait(false);
                if (ct.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            try
            {
                renewed = await _lease.RenewAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }

            if (renewed)
            {
                if (failingLogged)
                {
                    LogRenewBack(_logger);
                    failingLogged = false;
                }

                // Every renewal moves the kernel's fence on (and ends a fence).
                Wake();
            }
            else if (!failingLogged)
            {
                LogRenewFailing(_logger, _lease.LastError?.Message ?? "unknown", _lease.ValidUntil);
                failingLogged = true;
            }

            try
            {
                await Task.Delay(_options.RenewInterval, _options.Time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task KernelLoopAsync(CancellationToken ct)
    {
        try
        {
            var up = new Dictionary<int, bool>();
            var flushed = new Dictionary<int, long>();
            await foreach (var change in _dataplane!.Changes.ReadAllAsync(ct).ConfigureAwait(false))
            {
                // A neighbour entry deleted (ip neigh flush, a segment change): the neighbours may
                // have flushed theirs too, or hold wrong ones; announce again, at most so often.
                if (change is NetlinkChange.NeighbourChange { Removed: true, Static: false } n)
                {
                    var now = _options.Time.GetTimestamp();
                    if (!flushed.TryGetValue(n.LinkIndex, out var last) || _options.Time.GetElapsedTime(last, now) >= _options.NeighbourFlushReannounce)
                    {
                        flushed[n.LinkIndex] = now;
                        LogNeighbourFlushed(_logger, n.LinkIndex);
                        _dataplane.ReannounceLater(n.LinkIndex);
                        Wake();
                    }

                    continue;
                }

                // A link back up (carrier too): its neighbours may hold stale entries for our addresses.
                if (change is NetlinkChange.LinkChange { Removed: false, Link: var link })
                {
                    var isUp = link.Flags.HasFlag(LinkFlags.Up) && link.Flags.HasFlag(LinkFlags.LowerUp);
                    if (isUp && up.TryGetValue(link.Index, out var was) && !was)
                    {
                        LogReannounced(_logger, link.Name);
                        _dataplane.ReannounceLater(link.Index);
                        Wake();
                    }

                    up[link.Index] = isUp;
                }

                // A link that appears or changes, one of our addresses removed by someone else, or
                // another address added or removed (the status lists the node's interfaces).
                if (change is NetlinkChange.LinkChange or NetlinkChange.Overflow
                    || (change is NetlinkChange.AddressChange a && (a.Removed || a.Address.Protocol != _options.Mark)))
                {
                    Wake();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ReconcileLoopAsync(CancellationToken ct)
    {
        Wake();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await PassAsync(ct).ConfigureAwait(false);
                _passFailing = null;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _passFailing = e.Message;
                LogPassFailed(_logger, e.Message);
            }

            _passed.Set();

            // Sleep until something changes, the resync is due, or the Lease would run out.
            var untilFence = _lease.ValidUntil - Now;
            if (!_fenced && untilFence <= TimeSpan.Zero)
            {
                // The Lease ran out during the pass: fence right away.
                continue;
            }

            // A pass at least every renew interval keeps the kernel lifetimes moving, also while
            // renewals fail: the last pass before the Lease runs out sets what is left rounded up
            // (at least 1 s), so an address the fence pass keeps (All, or an outage of everyone)
            // is still there when that pass pushes it on. Without it the kernel's lifetime, set at
            // the last renewal, could run out a moment before the fence pass.
            var every = TimeSpan.FromTicks(Math.Min(_options.Resync.Ticks, _options.RenewInterval.Ticks));
            var wait = _fenced ? every : TimeSpan.FromTicks(Math.Min(every.Ticks, untilFence.Ticks + TimeSpan.TicksPerMillisecond));
            if (_outage.Holding && _options.OutageHold is { } hold)
            {
                // Wake when the longest hold through an outage is over.
                var untilHold = _lease.ValidUntil + hold - Now;
                wait = TimeSpan.FromTicks(Math.Clamp(untilHold.Ticks + TimeSpan.TicksPerMillisecond, TimeSpan.TicksPerMillisecond, wait.Ticks));
            }

            if (_handoverRecheck is { } recheck && recheck < wait)
            {
                wait = recheck + TimeSpan.FromMilliseconds(1);
            }

            if (!await _wake.WaitAsync(wait, ct).ConfigureAwait(false))
            {
                return;
            }
        }
    }
}
