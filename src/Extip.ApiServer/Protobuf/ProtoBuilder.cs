using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Extip.ApiServer.Protobuf;

/// <summary>
/// Writes one message of a compiled .proto, its fields named as in the .proto (the numbers and
/// wire types come from the descriptor, never from here), in field-number order.
/// </summary>
public sealed class ProtoBuilder(MessageDescriptor message)
{
    private readonly List<(int Number, int Order, byte[] Bytes)> _fields = [];

    public MessageDescriptor Descriptor { get; } = message;

    public ProtoBuilder String(string field, string value) => Add(field, FieldType.String, (o, n) =>
    {
        o.WriteTag(n, WireFormat.WireType.LengthDelimited);
        o.WriteString(value);
    });

    public ProtoBuilder Bytes(string field, byte[] value) => Add(field, FieldType.Bytes, (o, n) =>
    {
        o.WriteTag(n, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(value));
    });

    public ProtoBuilder Bool(string field, bool value) => Add(field, FieldType.Bool, (o, n) =>
    {
        o.WriteTag(n, WireFormat.WireType.Varint);
        o.WriteBool(value);
    });

    public ProtoBuilder Int64(string field, long value) => Add(field, FieldType.Int64, (o, n) =>
    {
        o.WriteTag(n, WireFormat.WireType.Varint);
        o.WriteInt64(value);
    });

    public ProtoBuilder Double(string field, double value) => Add(field, FieldType.Double, (o, n) =>
    {
        o.WriteTag(n, WireFormat.WireType.Fixed64);
        o.WriteDouble(value);
    });

    public ProtoBuilder Message(string field, ProtoBuilder value)
    {
        var bytes = value.ToByteArray();
        return Add(field, FieldType.Message, (o, n) =>
        {
            o.WriteTag(n, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFrom(bytes));
        });
    }

    /// <summary>A builder for a message-typed field of this message (not yet added).</summary>
    public ProtoBuilder New(string field) => new(Field(field, FieldType.Message).MessageType);

    public byte[] ToByteArray()
    {
        using var ms = new MemoryStream();
        foreach (var f in _fields.OrderBy(f => f.Number).ThenBy(f => f.Order))
        {
            ms.Write(f.Bytes);
        }

        return ms.ToArray();
    }

    private FieldDescriptor Field(string name, FieldType type)
    {
        var f = Descriptor.FindFieldByName(name) ?? throw new ArgumentException($"{Descriptor.FullName} has no field {name}", nameof(name));
        return f.FieldType == type ? f : throw new ArgumentException($"{f.FullName} is {f.FieldType}, not {type}", nameof(name));
    }

    private ProtoBuilder Add(string name, FieldType type, Action<CodedOutputStream, int> write)
    {
        var f = Field(name, type);
        using var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        write(o, f.FieldNumber);
        o.Flush();
        _fields.Add((f.FieldNumber, _fields.Count, ms.ToArray()));
        return this;
    }
}
