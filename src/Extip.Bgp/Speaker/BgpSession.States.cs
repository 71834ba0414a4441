using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Wire;
using Extip.Core.Concurrency;

namespace Extip.Bgp.Speaker;

/// <summary>The FSM: one method per state (RFC 4271 §8), each returning the next state and why; collisions (§6.8); sending the Adj-RIB-Out.</summary>
public sealed partial class BgpSession
{
    private async Task RunAsync(CancellationToken ct)
    {
        var (state, reason) = (Options.Passive ? SessionState.Active : SessionState.Connect, "started");
        while (!ct.IsCancellationRequested)
        {
            SetState(state, reason);
            try
            {
                (state, reason) = state switch
                {
                    SessionState.Idle => await IdleAsync(ct).ConfigureAwait(false),
                    SessionState.Connect => await ConnectAsync(ct).ConfigureAwait(false),
                    SessionState.Active => await ActiveAsync(ct).ConfigureAwait(false),
                    SessionState.OpenSent => await OpenSentAsync(ct).ConfigureAwait(false),
                    SessionState.OpenConfirm => await OpenConfirmAsync(ct).ConfigureAwait(false),
                    _ => await EstablishedAsync(ct).ConfigureAwait(false),
                };
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (BgpProtocolException e)
            {
                // §6: an error in what the peer sent: say which, and drop the connection.
                await NotifyAsync(e.Code, e.Subcode, e.NotificationData).ConfigureAwait(false);
                (state, reason) = Drop(e.Message);
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                (state, reason) = Drop(e.Message);
            }

            if (_shuttingDown && state == SessionState.Idle)
            {
                break;
            }
        }

        Drop("stopped");
        SetState(SessionState.Idle, "stopped");
    }

    private (SessionState, string) Drop(string reason)
    {
        lock (_gate)
        {
            _conn?.Dispose();
            _conn = null;
        }

        PeerOpen = null;
        LastError = reason;
        LogEnded(_logger, Options.Name, reason);
        return (SessionState.Idle, reason);
    }

    /// <summary>Idle: wait the (jittered) connect-retry time, or take a connection the peer makes.</summary>
    private async Task<(SessionState, string)> IdleAsync(CancellationToken ct)
    {
        var accepted = await WaitIncomingAsync(Jitter(Options.ConnectRetry), ct).ConfigureAwait(false);
        if (accepted is not null)
        {
            return await UseAsync(accepted, outgoing: false, ct).ConfigureAwait(false);
        }

        return Options.Passive ? (SessionState.Active, "connect-retry timer expired; waiting for the peer") : (SessionState.Connect, "connect-retry timer expired");
    }

    /// <summary>Connect: a TCP connection to the peer, while also taking one the peer makes.</summary>
    private async Task<(SessionState, string)> ConnectAsync(CancellationToken ct)
    {
        if (_incoming.Reader.TryRead(out var early))
        {
            return await UseAsync(early, outgoing: false, ct).ConfigureAwait(false);
        }

        using var attempt = new Deadline(Options.Time, Options.ConnectRetry, ct);
        var connect = _connector.ConnectAsync(Options, attempt.Token);
        var accept = _incoming.Reader.ReadAsync(attempt.Token).AsTask();
        await Task.WhenAny(connect, accept).ConfigureAwait(false);
        attempt.Cancel();
        string? failure = null;
        try
        {
            await connect.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            failure = e is SocketException s ? s.SocketErrorCode.ToString() : "no answer within the connect-retry time";
        }

        try
        {
            await accept.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }

        var incoming = accept.IsCompletedSuccessfully ? accept.Result : null;
        if (failure is not null)
        {
            return incoming is not null
                ? await UseAsync(incoming, outgoing: false, ct).ConfigureAwait(false)
                : (SessionState.Active, $"connect to {Options.PeerAddress} port {Options.PeerPort} failed: {failure}");
        }

        if (incoming is not null)
        {
            // Both at once: ours goes on, the peer's waits, and OpenConfirm settles which stays.
            _incoming.Writer.TryWrite(incoming);
            _wake.Set();
        }

        return await UseAsync(connect.Result, outgoing: true, ct).ConfigureAwait(false);
    }

    /// <summary>Active: wait for the peer to connect; when not passive, try again after the connect-retry time.</summary>
    private async Task<(SessionState, string)> ActiveAsync(CancellationToken ct)
    {
        var accepted = await WaitIncomingAsync(Options.Passive ? Timeout.InfiniteTimeSpan : Jitter(Options.ConnectRetry), ct).ConfigureAwait(false);
        if (accepted is not null)
        {
            return await UseAsync(accepted, outgoing: false, ct).ConfigureAwait(false);
        }

        return (SessionState.Connect, "connect-retry timer expired");
    }

    /// <summary>OpenSent: our OPEN is out; the peer's must come within the large hold time (§8.2.2).</summary>
    private async Task<(SessionState, string)> OpenSentAsync(CancellationToken ct)
    {
        var conn = _conn!;
        var m = await conn.ReadAsync(LargeHoldTime, ct).ConfigureAwait(false);
        switch (m)
        {
            case NotificationMessage n:
                throw new IOException($"the peer sent {n}");
            case OpenMessage open:
                CheckOpen(open);
                conn.PeerOpen = open;
                conn.Codec = new CodecContext(open.Capabilities.OfType<FourOctetAsCapability>().Any());
                conn.Hold = TimeSpan.FromSeconds(Math.Min((ushort)Options.HoldTime.TotalSeconds, open.HoldTime));
                PeerOpen = open;
                await conn.SendAsync(KeepaliveMessage.Instance, ct).ConfigureAwait(false);
                return (SessionState.OpenConfirm, $"OPEN from {open.Identifier}, AS {open.Asn}, hold {conn.Hold.TotalSeconds} s");
            default:
                throw new BgpProtocolException(BgpError.Fsm, BgpError.UnexpectedInOpenSent, $"{m.Type} in OpenSent");
        }
    }

    /// <summary>OpenConfirm: the peer's KEEPALIVE; a second connection from the peer is settled here (§6.8).</summary>
    private async Task<(SessionState, string)> OpenConfirmAsync(CancellationToken ct)
    {
        var conn = _conn!;
        var deadline = conn.Hold == TimeSpan.Zero ? LargeHoldTime : conn.Hold;
        var read = conn.ReadAsync(deadline, ct);
        while (true)
        {
            var woke = _wake.WhenSetAsync(ct);
            var done = await Task.WhenAny(read, woke).ConfigureAwait(false);
            if (done == woke)
            {
                _wake.TryConsume();
                if (_incoming.Reader.TryRead(out var other))
                {
                    if (await SettleCollisionAsync(conn, other, ct).ConfigureAwait(false) is { } next)
                    {
                        return next;
                    }
                }

                if (_shuttingDown)
                {
                    await NotifyAsync(BgpError.Cease, BgpError.AdministrativeShutdown, []).ConfigureAwait(false);
                    return (SessionState.Idle, "shutting down");
                }

                continue;
            }

            var m = await read.ConfigureAwait(false);
            return m switch
            {
                KeepaliveMessage => Established(conn),
                NotificationMessage n => throw new IOException($"the peer sent {n}"),
                _ => throw new BgpProtocolException(BgpError.Fsm, BgpError.UnexpectedInOpenConfirm, $"{m.Type} in OpenConfirm"),
            };
        }
    }

    private (SessionState, string) Established(Connection conn)
    {
        LastError = null;
        Interlocked.Increment(ref _established);
        Rib.Reset();
        return (SessionState.Established, $"KEEPALIVE from {conn.PeerOpen!.Identifier}");
    }

    /// <summary>
    /// §6.8: of two connections with the same peer, the one started by the side with the higher
    /// BGP identifier stays; the other is closed with Cease / connection collision resolution.
    /// Returns the next state when the current connection is the one to go.
    /// </summary>
    private async Task<(SessionState, string)?> SettleCollisionAsync(Connection current, IBgpConnection other, CancellationToken ct)
    {
        var keepPeers = Options.RouterId < current.PeerOpen!.BgpId;
        if (current.Outgoing && keepPeers)
        {
            await NotifyAsync(BgpError.Cease, BgpError.ConnectionCollisionResolution, []).ConfigureAwait(false);
            Drop("collision: the peer's connection stays (its identifier is higher)");
            return await UseAsync(other, outgoing: false, ct).ConfigureAwait(false);
        }

        await RejectAsync(other, BgpError.ConnectionCollisionResolution, ct).ConfigureAwait(false);
        return null;
    }

    /// <summary>Established: UPDATEs out as the RIB changes, KEEPALIVEs on time, the peer's hold timer watched.</summary>
    private async Task<(SessionState, string)> EstablishedAsync(CancellationToken ct)
    {
        var conn = _conn!;
        var hold = conn.Hold;
        var keepalive = hold == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : Options.KeepaliveTime is { } k && k < hold ? k : hold / 3;
        var nextKeepalive = Options.Time.GetUtcNow().UtcDateTime + Jitter(keepalive);
        var holdExpires = Options.Time.GetUtcNow().UtcDateTime + hold;
        var nextHop = conn.LocalAddress;
        conn.LinkLocal ??= NextHops.LinkLocalOnLink(Options.Netns, nextHop, Options.PeerAddress);
        _bfdDown = false;

        _wasEstablished = true;
        var endOfRibSent = false;
        if (_ribKnown)
        {
            await FlushAsync(conn, nextHop, ct).ConfigureAwait(false);
            await SendEndOfRibAsync(conn, ct).ConfigureAwait(false);
            endOfRibSent = true;
        }

        var read = conn.ReadAsync(Timeout.InfiniteTimeSpan, ct);
        while (true)
        {
            var now = Options.Time.GetUtcNow().UtcDateTime;
            var wake = hold == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : Max(TimeSpan.Zero, (nextKeepalive < holdExpires ? nextKeepalive : holdExpires) - now);
            using var timer = new Deadline(Options.Time, wake, ct);
            var woke = _wake.WhenSetAsync(timer.Token);
            await Task.WhenAny(read, woke).ConfigureAwait(false);
            timer.Cancel();
            ct.ThrowIfCancellationRequested();

            if (read.IsCompleted)
            {
                var m = await read.ConfigureAwait(false);
                holdExpires = Options.Time.GetUtcNow().UtcDateTime + hold;
                switch (m)
                {
                    case NotificationMessage n:
                        return Drop($"the peer sent {n}");
                    case UpdateMessage u:
                        if (u.Errors.Count > 0)
                        {
                            LogUpdateErrors(_logger, Options.Name, string.Join("; ", u.Errors), u.TreatAsWithdraw);
                        }

                        break;
                    case RouteRefreshMessage r when r.Family == AfiSafi.Of(Options.Family):
                        // RFC 2918: the whole Adj-RIB-Out again.
                        Rib.Reset();
                        _wake.Set();
                        break;
                    case OpenMessage:
                        throw new BgpProtocolException(BgpError.Fsm, BgpError.UnexpectedInEstablished, "OPEN in Established");
                }

                read = conn.ReadAsync(Timeout.InfiniteTimeSpan, ct);
            }

            if (woke.IsCompletedSuccessfully && woke.Result)
            {
                _wake.TryConsume();
            }

            if (_bfdDown)
            {
                // RFC 5882 §4.3: the forwarding path is gone; the session goes with it.
                await NotifyAsync(BgpError.Cease, BgpError.BfdDown, []).ConfigureAwait(false);
                return Drop("BFD went down");
            }

            while (_incoming.Reader.TryRead(out var other))
            {
                if (GracefulRestartAgreed(conn))
                {
                    // RFC 4724 §4.2: a new connection from a restarting peer replaces the old one.
                    Drop("the peer connected again (graceful restart)");
                    return await UseAsync(other, outgoing: false, ct).ConfigureAwait(false);
                }

                await RejectAsync(other, BgpError.ConnectionCollisionResolution, ct).ConfigureAwait(false);
            }

            if (_ribKnown)
            {
                await FlushAsync(conn, nextHop, ct).ConfigureAwait(false);
                if (!endOfRibSent)
                {
                    await SendEndOfRibAsync(conn, ct).ConfigureAwait(false);
                    endOfRibSent = true;
                }
            }

            if (_shuttingDown && Rib.SentCount == 0)
            {
                await NotifyAsync(BgpError.Cease, BgpError.AdministrativeShutdown, []).ConfigureAwait(false);
                conn.Shutdown();
                return Drop("shut down: routes withdrawn");
            }

            now = Options.Time.GetUtcNow().UtcDateTime;
            if (hold != TimeSpan.Zero && now >= holdExpires)
            {
                throw new BgpProtocolException(BgpError.HoldTimerExpired, 0, $"nothing from the peer for {hold.TotalSeconds} s");
            }

            if (now >= nextKeepalive)
            {
                await conn.SendAsync(KeepaliveMessage.Instance, ct).ConfigureAwait(false);
                nextKeepalive = now + Jitter(keepalive);
            }
        }
    }

    private bool GracefulRestartAgreed(Connection conn) =>
        Options.GracefulRestart && conn.PeerOpen!.Capabilities.OfType<GracefulRestartCapability>().Any();

    /// <summary>Makes a new connection the current one and sends our OPEN on it.</summary>
    private async Task<(SessionState, string)> UseAsync(IBgpConnection transport, bool outgoing, CancellationToken ct)
    {
        var conn = new Connection(transport, outgoing, Options.Time);
        lock (_gate)
        {
            _conn?.Dispose();
            _conn = conn;
        }

        LocalEndPoint = conn.LocalEndPoint;
        await conn.SendAsync(OurOpen(), ct).ConfigureAwait(false);
        return (SessionState.OpenSent, outgoing ? $"connected from {conn.LocalEndPoint}" : $"the peer connected from {conn.RemoteEndPoint}");
    }

    private async Task<IBgpConnection?> WaitIncomingAsync(TimeSpan wait, CancellationToken ct)
    {
        if (_incoming.Reader.TryRead(out var s))
        {
            return s;
        }

        using var timer = new Deadline(Options.Time, wait, ct);
        try
        {
            return await _incoming.Reader.ReadAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>End-of-RIB (RFC 4724 §2): all we have was sent.</summary>
    private async Task SendEndOfRibAsync(Connection conn, CancellationToken ct) =>
        await conn.SendAsync(UpdateMessage.EndOfRib(AfiSafi.Of(Options.Family)), ct).ConfigureAwait(false);

    private async Task FlushAsync(Connection conn, IPAddress nextHop, CancellationToken ct)
    {
        var updates = Rib.Flush(Options.Family, Options.LocalAs, Options.IsInternal, nextHop, conn.Codec, conn.LinkLocal);
        if (updates.Count == 0)
        {
            return;
        }

        await conn.SendManyAsync(updates, ct).ConfigureAwait(false);
        Interlocked.Add(ref _updatesSent, updates.Count);
    }
}
