using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Extip.Netlink.Wire;

/// <summary>
/// Builds netlink messages: a 16-byte header, a fixed family header, then 4-byte aligned
/// attributes (nested ones too). Several messages can go into one buffer (a batch).
/// </summary>
public sealed class MessageWriter
{
    private byte[] _buffer = new byte[4096];
    private int _length;
    private int _start = -1;
    private readonly Stack<int> _nests = new();

    public int Length => _length;

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public void Clear()
    {
        _length = 0;
        _start = -1;
        _nests.Clear();
    }

    /// <summary>Starts a message; <paramref name="fixedHeader"/> is the family header (ifinfomsg, ifaddrmsg, rtmsg).</summary>
    public MessageWriter Begin(ushort type, ushort flags, uint seq, ReadOnlySpan<byte> fixedHeader)
    {
        if (_start >= 0)
        {
            throw new InvalidOperationException("the previous message is not ended");
        }

        _start = _length;
        var h = Take(NetlinkHeader.Size);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], seq);
        fixedHeader.CopyTo(Take(Align(fixedHeader.Length)));
        return this;
    }

    public MessageWriter End()
    {
        if (_nests.Count > 0)
        {
            throw new InvalidOperationException("a nested attribute is not ended");
        }

        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_start), (uint)(_length - _start));
        _start = -1;
        return this;
    }

    public MessageWriter Attr(ushort type, ReadOnlySpan<byte> value)
    {
        var a = Take(Align(4 + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(a, (ushort)(4 + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(a[2..], type);
        value.CopyTo(a[4..]);
        return this;
    }

    public MessageWriter U8(ushort type, byte value) => Attr(type, [value]);

    public MessageWriter U32(ushort type, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return Attr(type, b);
    }

    public MessageWriter String(ushort type, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value + "\0");
        return Attr(type, bytes);
    }

    public MessageWriter Ip(ushort type, IPAddress address) => Attr(type, address.GetAddressBytes());

    /// <summary>Starts an attribute that holds others; <paramref name="flagged"/> sets NLA_F_NESTED (RTA_MULTIPATH must not have it).</summary>
    public MessageWriter BeginNest(ushort type, bool flagged = true)
    {
        _nests.Push(_length);
        var a = Take(4);
        BinaryPrimitives.WriteUInt16LittleEndian(a[2..], flagged ? (ushort)(type | NetlinkHeader.NlaFNested) : type);
        return this;
    }

    public MessageWriter EndNest()
    {
        var at = _nests.Pop();
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(at), (ushort)(_length - at));
        return this;
    }

    /// <summary>Raw bytes inside the current attribute (RTA_MULTIPATH's rtnexthop).</summary>
    public Span<byte> Raw(int length) => Take(Align(length))[..length];

    /// <summary>Overwrites a 16-bit length written earlier at <paramref name="offset"/> with the bytes since.</summary>
    public void PatchLength16(int offset) => BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(offset), (ushort)(_length - offset));

    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

    public static int Align(int n) => (n + 3) & ~3;

    private Span<byte> Take(int n)
    {
        if (_length + n > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + n));
        }

        var s = _buffer.AsSpan(_length, n);
        s.Clear();
        _length += n;
        return s;
    }
}
