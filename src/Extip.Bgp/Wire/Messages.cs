using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Extip.Bgp.Wire;

public enum MessageType : byte
{
    Open = 1,
    Update = 2,
    Notification = 3,
    Keepalive = 4,
    RouteRefresh = 5,
}

public abstract record BgpMessage(MessageType Type);

/// <summary>OPEN. <see cref="MyAs"/> is the 2-octet field (AS_TRANS when the real AS does not fit).</summary>
public sealed record OpenMessage(byte Version, ushort MyAs, ushort HoldTime, uint BgpId, IReadOnlyList<Capability> Capabilities) : BgpMessage(MessageType.Open)
{
    /// <summary>The sender's AS: from the 4-octet AS capability when present.</summary>
    public uint Asn => Capabilities.OfType<FourOctetAsCapability>().FirstOrDefault()?.Asn ?? MyAs;

    public IPAddress Identifier => new([(byte)(BgpId >> 24), (byte)(BgpId >> 16), (byte)(BgpId >> 8), (byte)BgpId]);

    public bool Equals(OpenMessage? other) =>
        other is not null && Version == other.Version && MyAs == other.MyAs && HoldTime == other.HoldTime && BgpId == other.BgpId && Capabilities.SequenceEqual(other.Capabilities);

    public override int GetHashCode() => HashCode.Combine(MyAs, HoldTime, BgpId);
}

/// <summary>
/// UPDATE. When an attribute error allows it (RFC 7606), the message is still returned with
/// <see cref="TreatAsWithdraw"/> set: its NLRI are to be withdrawn, and the session stays up.
/// </summary>
public sealed record UpdateMessage(IReadOnlyList<Prefix> Withdrawn, IReadOnlyList<PathAttribute> Attributes, IReadOnlyList<Prefix> Nlri) : BgpMessage(MessageType.Update)
{
    public bool TreatAsWithdraw { get; init; }

    /// <summary>What was wrong with the attributes, when anything was (discarded or treat-as-withdraw).</summary>
    public IReadOnlyList<string> Errors { get; init; } = [];

    /// <summary>End-of-RIB (RFC 4724 §2): an empty UPDATE for IPv4 unicast, an empty MP_UNREACH_NLRI for any other family.</summary>
    public static UpdateMessage EndOfRib(AfiSafi family) =>
        family == AfiSafi.IPv4Unicast ? new UpdateMessage([], [], []) : new UpdateMessage([], [new MpUnreachAttribute(family, [])], []);

    public bool IsEndOfRib => Withdrawn.Count == 0 && Nlri.Count == 0 && (Attributes.Count == 0 || (Attributes.Count == 1 && Attributes[0] is MpUnreachAttribute { Withdrawn.Count: 0 }));

    public T? Get<T>()
        where T : PathAttribute => Attributes.OfType<T>().FirstOrDefault();

    public bool Equals(UpdateMessage? other) =>
        other is not null && Withdrawn.SequenceEqual(other.Withdrawn) && Attributes.SequenceEqual(other.Attributes) && Nlri.SequenceEqual(other.Nlri) && TreatAsWithdraw == other.TreatAsWithdraw;

    public override int GetHashCode() => HashCode.Combine(Withdrawn.Count, Attributes.Count, Nlri.Count);
}

public sealed record NotificationMessage(byte Code, byte Subcode, byte[] Data) : BgpMessage(MessageType.Notification)
{
    public override string ToString() => $"NOTIFICATION {BgpError.Describe(Code, Subcode)} ({Code}/{Subcode}{(Data.Length > 0 ? ", data " + Convert.ToHexString(Data) : string.Empty)})";

    public bool Equals(NotificationMessage? other) => other is not null && Code == other.Code && Subcode == other.Subcode && Data.AsSpan().SequenceEqual(other.Data);

    public override int GetHashCode() => HashCode.Combine(Code, Subcode);
}

public sealed record KeepaliveMessage() : BgpMessage(MessageType.Keepalive)
{
    public static readonly KeepaliveMessage Instance = new();
}

public sealed record RouteRefreshMessage(AfiSafi Family) : BgpMessage(MessageType.RouteRefresh);
