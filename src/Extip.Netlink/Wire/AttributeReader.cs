using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Extip.Netlink.Wire;

/// <summary>Walks 4-byte aligned netlink attributes; a truncated or overlong one ends the walk with a typed error.</summary>
public ref struct AttributeReader(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> _rest = data;

    public ushort Type { get; private set; }

    public ReadOnlySpan<byte> Value { get; private set; }

    public bool Next()
    {
        if (_rest.Length < 4)
        {
            return false;
        }

        var len = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
        if (len < 4 || len > _rest.Length)
        {
            throw new NetlinkFormatException($"attribute length {len} with {_rest.Length} bytes left");
        }

        Type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(_rest[2..]) & NetlinkHeader.NlaTypeMask);
        Value = _rest[4..len];
        _rest = _rest[Math.Min(_rest.Length, MessageWriter.Align(len))..];
        return true;
    }

    public readonly uint U32() => Value.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(Value) : throw new NetlinkFormatException($"attribute {Type}: {Value.Length} bytes, want 4");

    public readonly byte U8() => Value.Length >= 1 ? Value[0] : throw new NetlinkFormatException($"attribute {Type}: empty, want 1 byte");

    public readonly string String()
    {
        var v = Value;
        var nul = v.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? v[..nul] : v);
    }

    public readonly IPAddress Ip() => Value.Length is 4 or 16 ? new IPAddress(Value) : throw new NetlinkFormatException($"attribute {Type}: {Value.Length} bytes is not an IPv4 or IPv6 address");
}

/// <summary>Bytes from the kernel that do not parse as netlink.</summary>
public sealed class NetlinkFormatException : Exception
{
    public NetlinkFormatException()
    {
    }

    public NetlinkFormatException(string message)
        : base(message)
    {
    }

    public NetlinkFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
