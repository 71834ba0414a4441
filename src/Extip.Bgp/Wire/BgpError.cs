namespace Extip.Bgp.Wire;

/// <summary>NOTIFICATION error codes and subcodes (RFC 4271 §4.5, §6; RFC 4486; RFC 7313).</summary>
public static class BgpError
{
    public const byte MessageHeader = 1;
    public const byte OpenMessage = 2;
    public const byte UpdateMessage = 3;
    public const byte HoldTimerExpired = 4;
    public const byte Fsm = 5;
    public const byte Cease = 6;
    public const byte RouteRefresh = 7;

    // Message header
    public const byte ConnectionNotSynchronized = 1;
    public const byte BadMessageLength = 2;
    public const byte BadMessageType = 3;

    // OPEN
    public const byte UnsupportedVersion = 1;
    public const byte BadPeerAs = 2;
    public const byte BadBgpIdentifier = 3;
    public const byte UnsupportedOptionalParameter = 4;
    public const byte UnacceptableHoldTime = 6;
    public const byte UnsupportedCapability = 7;

    // UPDATE
    public const byte MalformedAttributeList = 1;
    public const byte UnrecognizedWellKnownAttribute = 2;
    public const byte MissingWellKnownAttribute = 3;
    public const byte AttributeFlagsError = 4;
    public const byte AttributeLengthError = 5;
    public const byte InvalidOrigin = 6;
    public const byte InvalidNextHop = 8;
    public const byte OptionalAttributeError = 9;
    public const byte InvalidNetworkField = 10;
    public const byte MalformedAsPath = 11;

    // Cease (RFC 4486)
    public const byte AdministrativeShutdown = 2;
    public const byte PeerDeconfigured = 3;
    public const byte AdministrativeReset = 4;
    public const byte ConnectionRejected = 5;
    public const byte ConnectionCollisionResolution = 7;

    /// <summary>RFC 9384: the BFD session of the BGP session went down.</summary>
    public const byte BfdDown = 10;

    // Finite State Machine Error (RFC 6608)
    public const byte UnexpectedInOpenSent = 1;
    public const byte UnexpectedInOpenConfirm = 2;
    public const byte UnexpectedInEstablished = 3;

    public static string Describe(byte code, byte subcode) => (code, subcode) switch
    {
        (MessageHeader, ConnectionNotSynchronized) => "message header: connection not synchronized",
        (MessageHeader, BadMessageLength) => "message header: bad message length",
        (MessageHeader, BadMessageType) => "message header: bad message type",
        (MessageHeader, _) => "message header error",
        (OpenMessage, UnsupportedVersion) => "OPEN: unsupported version number",
        (OpenMessage, BadPeerAs) => "OPEN: bad peer AS",
        (OpenMessage, BadBgpIdentifier) => "OPEN: bad BGP identifier",
        (OpenMessage, UnsupportedOptionalParameter) => "OPEN: unsupported optional parameter",
        (OpenMessage, UnacceptableHoldTime) => "OPEN: unacceptable hold time",
        (OpenMessage, UnsupportedCapability) => "OPEN: unsupported capability",
        (OpenMessage, _) => "OPEN message error",
        (UpdateMessage, MalformedAttributeList) => "UPDATE: malformed attribute list",
        (UpdateMessage, UnrecognizedWellKnownAttribute) => "UPDATE: unrecognized well-known attribute",
        (UpdateMessage, MissingWellKnownAttribute) => "UPDATE: missing well-known attribute",
        (UpdateMessage, AttributeFlagsError) => "UPDATE: attribute flags error",
        (UpdateMessage, AttributeLengthError) => "UPDATE: attribute length error",
        (UpdateMessage, InvalidOrigin) => "UPDATE: invalid ORIGIN attribute",
        (UpdateMessage, InvalidNextHop) => "UPDATE: invalid NEXT_HOP attribute",
        (UpdateMessage, OptionalAttributeError) => "UPDATE: optional attribute error",
        (UpdateMessage, InvalidNetworkField) => "UPDATE: invalid network field",
        (UpdateMessage, MalformedAsPath) => "UPDATE: malformed AS_PATH",
        (UpdateMessage, _) => "UPDATE message error",
        (HoldTimerExpired, _) => "hold timer expired",
        (Fsm, UnexpectedInOpenSent) => "FSM: unexpected message in OpenSent",
        (Fsm, UnexpectedInOpenConfirm) => "FSM: unexpected message in OpenConfirm",
        (Fsm, UnexpectedInEstablished) => "FSM: unexpected message in Established",
        (Fsm, _) => "finite state machine error",
        (Cease, AdministrativeShutdown) => "cease: administrative shutdown",
        (Cease, PeerDeconfigured) => "cease: peer de-configured",
        (Cease, AdministrativeReset) => "cease: administrative reset",
        (Cease, ConnectionRejected) => "cease: connection rejected",
        (Cease, ConnectionCollisionResolution) => "cease: connection collision resolution",
        (Cease, BfdDown) => "cease: BFD down",
        (Cease, _) => "cease",
        (RouteRefresh, _) => "ROUTE-REFRESH message error",
        _ => $"error code {code}",
    };
}

/// <summary>
/// The one error the codec throws: what the peer sent is wrong, and this NOTIFICATION
/// (code, subcode, data) says so. Any other exception from the decoder is a bug.
/// </summary>
public sealed class BgpProtocolException : Exception
{
    public BgpProtocolException()
    {
    }

    public BgpProtocolException(string message)
        : base(message)
    {
    }

    public BgpProtocolException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public BgpProtocolException(byte code, byte subcode, string detail, byte[]? data = null)
        : base($"{BgpError.Describe(code, subcode)}: {detail}")
    {
        Code = code;
        Subcode = subcode;
        NotificationData = data ?? [];
    }

    public byte Code { get; }

    public byte Subcode { get; }

    public byte[] NotificationData { get; } = [];
}
