namespace Extip.Bgp.Bfd;

/// <summary>A state change of a BFD session, and why.</summary>
public readonly record struct BfdTransition(BfdState From, BfdState To, BfdDiag Diag);

/// <summary>
/// One BFD session in asynchronous mode (RFC 5880 §6.8), as pure code: packets and the current
/// time go in; state changes, packets to send and the next deadlines come out. The caller owns
/// the sockets and the clock, so the machine is tested in virtual time.
/// </summary>
public sealed class BfdMachine
{
    private static readonly TimeSpan Never = TimeSpan.MaxValue;
    private readonly BfdOptions _options;
    private readonly Random _random;

    // §6.8.1 state variables (intervals as TimeSpan; the wire carries microseconds).
    private TimeSpan _desiredMinTx;
    private readonly TimeSpan _requiredMinRx;
    private TimeSpan _remoteMinRx = TimeSpan.FromTicks(10); // 1 µs: "initialized to 1"
    private TimeSpan _remoteDesiredMinTx = TimeSpan.Zero;
    private byte _remoteDetectMult;

    // §6.8.3: while a Poll Sequence runs, the values the peer has not yet acknowledged are kept
    // apart from the ones it has: the old transmit interval and the old receive interval.
    private bool _polling;
    private TimeSpan _txInUse;
    private TimeSpan _rxForDetection;
    private bool _remoteDemand;

    public BfdMachine(BfdOptions options, uint localDiscriminator, TimeSpan now, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (localDiscriminator == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(localDiscriminator), "a local discriminator must be non-zero (RFC 5880 §6.8.1)");
        }

        _options = options;
        _random = random ?? Random.Shared;
        LocalDiscriminator = localDiscriminator;
        _desiredMinTx = SlowTx();
        _requiredMinRx = options.MinRx;
        _txInUse = _desiredMinTx;
        _rxForDetection = _requiredMinRx;
        NextTransmit = options.Passive ? Never : now;
    }

    public uint LocalDiscriminator { get; }

    public uint RemoteDiscriminator { get; private set; }

    public BfdState State { get; private set; } = BfdState.Down;

    public BfdState RemoteState { get; private set; } = BfdState.Down;

    public BfdDiag LocalDiag { get; private set; } = BfdDiag.None;

    public BfdOptions Options => _options;

    /// <summary>When the next periodic packet is due (<see cref="TimeSpan.MaxValue"/>: none is).</summary>
    public TimeSpan NextTransmit { get; private set; }

    /// <summary>When the session goes Down if nothing arrives (<see cref="TimeSpan.MaxValue"/>: no deadline).</summary>
    public TimeSpan DetectionDeadline { get; private set; } = Never;

    /// <summary>The interval between our packets (before jitter): max(DesiredMinTx, RemoteMinRx), §6.8.7.</summary>
    public TimeSpan TransmitInterval => Max(_txInUse, _remoteMinRx);

    /// <summary>§6.8.4: the peer's multiplier times max(our RequiredMinRx, its DesiredMinTx).</summary>
    public TimeSpan DetectionTime => _remoteDetectMult == 0 ? Never : Max(_rxForDetection, _remoteDesiredMinTx) * _remoteDetectMult;

    public bool Polling => _polling;

    public long PacketsReceived { get; private set; }

    public long PacketsDiscarded { get; private set; }

    public string? LastDiscard { get; private set; }

    /// <summary>
    /// RFC 5880 §6.8.6, after demultiplexing: updates the session from a received packet. Returns
    /// the state change, if any; <paramref name="replyFinal"/> asks for an immediate packet with
    /// the Final bit (the answer to the peer's Poll).
    /// </summary>
    public BfdTransition? Receive(in BfdPacket p, TimeSpan now, out bool replyFinal)
    {
        replyFinal = false;
        if ((p.Flags & BfdFlags.Authentication) != 0)
        {
            return Discard("the authentication bit is set and this session uses none");
        }

        if (p.YourDiscriminator != 0 && p.YourDiscriminator != LocalDiscriminator)
        {
            return Discard($"your discriminator {p.YourDiscriminator} is not ours ({LocalDiscriminator})");
        }

        if (p.YourDiscriminator == 0 && p.State is not (BfdState.Down or BfdState.AdminDown))
        {
            return Discard($"your discriminator 0 in state {p.State}");
        }

        PacketsReceived++;
        RemoteDiscriminator = p.MyDiscriminator;
        RemoteState = p.State;
        var remoteMinRx = Us(p.RequiredMinRxUs);
        var rescheduled = remoteMinRx != _remoteMinRx;
        _remoteMinRx = remoteMinRx;
        _remoteDesiredMinTx = Us(p.DesiredMinTxUs);
        _remoteDetectMult = p.DetectMult;

        if (p.Final && _polling)
        {
            // The peer has seen our new intervals (§6.5): they apply from now on.
            _polling = false;
            _txInUse = _desiredMinTx;
            _rxForDetection = _requiredMinRx;
            rescheduled = true;
        }

        // §6.8.7: nothing is sent while the peer asks for no packets (RequiredMinRx 0); a passive
        // system starts once the peer has spoken; a peer that asks for fewer or more packets gets
        // the new rate from the next packet on.
        if (_remoteMinRx == TimeSpan.Zero)
        {
            NextTransmit = Never;
        }
        else if (NextTransmit == Never)
        {
            NextTransmit = now;
        }
        else if (rescheduled)
        {
            NextTransmit = Min(NextTransmit, now + Jittered(TransmitInterval));
        }

        _remoteDemand = (p.Flags & BfdFlags.Demand) != 0;
        if (State == BfdState.AdminDown)
        {
            return null;
        }

        replyFinal = p.Poll;

        BfdTransition? change = null;
        if (p.State == BfdState.AdminDown)
        {
            if (State != BfdState.Down)
            {
                change = Go(BfdState.Down, BfdDiag.NeighborSignaledDown, now);
            }
        }
        else if (State == BfdState.Down)
        {
            if (p.State == BfdState.Down)
            {
                change = Go(BfdState.Init, LocalDiag, now);
            }
            else if (p.State == BfdState.Init)
            {
                change = Go(BfdState.Up, LocalDiag, now);
            }
        }
        else if (State == BfdState.Init)
        {
            if (p.State is BfdState.Init or BfdState.Up)
            {
                change = Go(BfdState.Up, LocalDiag, now);
            }
        }
        else if (p.State == BfdState.Down)
        {
            change = Go(BfdState.Down, BfdDiag.NeighborSignaledDown, now);
        }

        // "If the packet was not discarded ... restart the Detection Timer."
        DetectionDeadline = State is BfdState.Init or BfdState.Up ? now + DetectionTime : now + Max(DetectionTime, SlowTx() * 3);
        return change;
    }

    /// <summary>The detection timer (§6.8.4): returns the change to Down when it ran out.</summary>
    public BfdTransition? Expire(TimeSpan now)
    {
        if (now < DetectionDeadline)
        {
            return null;
        }

        DetectionDeadline = Never;
        if (State is BfdState.Init or BfdState.Up)
        {
            var change = Go(BfdState.Down, BfdDiag.DetectionTimeExpired, now);
            ForgetPeer();
            return change;
        }

        // §6.8.1, §6.8.18: a Detection Time without packets in Down: the peer is forgotten.
        ForgetPeer();
        return null;
    }

    /// <summary>
    /// The periodic packet due at <paramref name="now"/> (§6.8.7), or null when none is to be sent;
    /// schedules the next one, jittered to 75–100 % of the interval (75–90 % with multiplier 1).
    /// </summary>
    public BfdPacket? Transmit(TimeSpan now)
    {
        if (now < NextTransmit)
        {
            return null;
        }

        if (_remoteMinRx == TimeSpan.Zero || (_options.Passive && RemoteDiscriminator == 0))
        {
            NextTransmit = Never;
            return null;
        }

        NextTransmit = now + Jittered(TransmitInterval);
        if (_remoteDemand && State == BfdState.Up && RemoteState == BfdState.Up && !_polling)
        {
            // §6.6: the peer runs in Demand mode; it asks us to stop the periodic packets.
            return null;
        }
        return Build(_polling ? BfdFlags.Poll : BfdFlags.None);
    }

    /// <summary>
    /// What the periodic packet says now, whenever it leaves (§6.8.7), or null when none is to be
    /// sent: for a sender that keeps its own schedule (a transmit worker), which needs only the
    /// packet, <see cref="TransmitInterval"/> and the jitter.
    /// </summary>
    public BfdPacket? PeriodicPacket()
    {
        if (_remoteMinRx == TimeSpan.Zero || (_options.Passive && RemoteDiscriminator == 0)
            || (_remoteDemand && State == BfdState.Up && RemoteState == BfdState.Up && !_polling))
        {
            return null;
        }

        return Build(_polling ? BfdFlags.Poll : BfdFlags.None);
    }

    /// <summary>The highest share of <see cref="TransmitInterval"/> a jittered interval may take: 0.9 with multiplier 1, else 1 (§6.8.7).</summary>
    public double JitterHigh => _options.Multiplier == 1 ? 0.90 : 1.0;

    /// <summary>The answer to a Poll: the Final bit, sent at once whatever the timers (§6.8.7).</summary>
    public BfdPacket FinalPacket() => Build(BfdFlags.Final);

    /// <summary>§6.8.16: stops the session (our packets say AdminDown) or starts it again.</summary>
    public BfdTransition? SetAdminDown(bool down, TimeSpan now)
    {
        if (down == (State == BfdState.AdminDown))
        {
            return null;
        }

        var change = Go(down ? BfdState.AdminDown : BfdState.Down, down ? BfdDiag.AdministrativelyDown : BfdDiag.None, now);
        DetectionDeadline = Never;
        return change;
    }

    private BfdPacket Build(BfdFlags flags) => new(
        LocalDiag,
        State,
        flags,
        _options.Multiplier,
        LocalDiscriminator,
        RemoteDiscriminator,
        ToUs(_desiredMinTx),
        ToUs(_requiredMinRx),
        0);

    private BfdTransition Go(BfdState to, BfdDiag diag, TimeSpan now)
    {
        var from = State;
        State = to;
        LocalDiag = diag;

        // §6.8.3: not Up, we send no faster than once a second; Up, at the configured rate. The
        // peer learns the new value through a Poll Sequence; a decrease may apply at once, an
        // increase only once the peer has acknowledged it.
        var wanted = to == BfdState.Up ? _options.MinTx : SlowTx();
        if (wanted != _desiredMinTx)
        {
            var increase = wanted > _desiredMinTx;
            _desiredMinTx = wanted;
            if (to == BfdState.Up || from == BfdState.Up)
            {
                _polling = to == BfdState.Up;
            }

            if (!increase || to != BfdState.Up)
            {
                _txInUse = wanted;
            }
        }

        if (to != BfdState.Up)
        {
            _polling = false;
            _rxForDetection = _requiredMinRx;
        }

        if (NextTransmit != Never)
        {
            NextTransmit = Min(NextTransmit, now + Jittered(TransmitInterval));
        }

        return new BfdTransition(from, to, diag);
    }

    private void ForgetPeer()
    {
        RemoteDiscriminator = 0;
        RemoteState = BfdState.Down;
        _remoteMinRx = TimeSpan.FromTicks(10);
        _remoteDesiredMinTx = TimeSpan.Zero;
        _remoteDetectMult = 0;
        if (_options.Passive)
        {
            NextTransmit = Never;
        }
    }

    private BfdTransition? Discard(string reason)
    {
        PacketsDiscarded++;
        LastDiscard = reason;
        return null;
    }

    private TimeSpan SlowTx() => Max(_options.MinTx, BfdOptions.SlowTx);

    private TimeSpan Jittered(TimeSpan interval)
    {
        var low = 0.75;
        var high = JitterHigh;
        return interval * (low + (_random.NextDouble() * (high - low)));
    }

    private static TimeSpan Us(uint us) => TimeSpan.FromTicks(us * 10L);

    private static uint ToUs(TimeSpan t) => (uint)Math.Min(uint.MaxValue, t.Ticks / 10);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
