namespace Extip.Bgp.Bfd;

/// <summary>One BFD session's timers (RFC 5880 §6.8.1 bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval, bfd.DetectMult).</summary>
public sealed record BfdOptions
{
    /// <summary>How often we would like to send once Up (before Up, never faster than once a second, §6.8.3).</summary>
    public TimeSpan MinTx { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>How often we can take packets from the peer.</summary>
    public TimeSpan MinRx { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Packets missed in a row before the session goes Down.</summary>
    public byte Multiplier { get; init; } = 3;

    /// <summary>Passive role (§6.1): send nothing until the peer has spoken.</summary>
    public bool Passive { get; init; }

    /// <summary>The slowest rate at which a session that is not Up sends (§6.8.3: at least one second).</summary>
    public static readonly TimeSpan SlowTx = TimeSpan.FromSeconds(1);

    /// <summary>Throws with the field and the value when the timers cannot work.</summary>
    public void Validate()
    {
        if (MinTx < TimeSpan.FromMilliseconds(1) || MinTx > TimeSpan.FromSeconds(60))
        {
            throw new ArgumentException($"bfd minTx {MinTx.TotalMilliseconds} ms: must be 1 ms to 60 s");
        }

        if (MinRx < TimeSpan.FromMilliseconds(1) || MinRx > TimeSpan.FromSeconds(60))
        {
            throw new ArgumentException($"bfd minRx {MinRx.TotalMilliseconds} ms: must be 1 ms to 60 s");
        }

        if (Multiplier == 0)
        {
            throw new ArgumentException($"bfd multiplier {Multiplier}: must be 1 to 255");
        }
    }
}
