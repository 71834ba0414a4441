using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Extip.ApiServer.Protobuf;

/// <summary>
/// Between a Kubernetes protobuf message and its JSON, as the Go types do it: field names from the
/// json tags, inline structs flattened, a zero scalar kept only where Go's JSON would print it (a
/// pointer, or no omitempty), and the types with their own JSON: Time and MicroTime (RFC 3339),
/// Duration, IntOrString, Quantity, RawExtension and FieldsV1 (embedded JSON), and messages that
/// are Go slices (ExtraValue, Verbs: JSON arrays). Driven by the descriptors alone; what the JSON
/// holds that the message cannot is reported, never dropped.
/// </summary>
public static class ProtoJson
{
    private const string Meta = "k8s.io.apimachinery.pkg.apis.meta.v1.";

    private static readonly Lazy<(Dictionary<string, Dictionary<string, FieldJson>> Fields, HashSet<string> Slices)> Json = new(LoadJson);

    private sealed record FieldJson(string? Json, bool KeepZero, bool Inline);

    private static readonly FieldJson Plain = new(null, false, false);

    /// <summary>The JSON of a message's bytes.</summary>
    public static JsonObject Decode(MessageDescriptor message, ReadOnlySpan<byte> bytes)
    {
        var obj = new JsonObject();
        DecodeInto(message, bytes.ToArray(), obj);
        return obj;
    }

    /// <summary>The message bytes of a JSON object, or null when the JSON holds something the message cannot.</summary>
    public static byte[]? TryEncode(MessageDescriptor message, JsonObject obj)
    {
        using var ms = new MemoryStream();
        var output = new CodedOutputStream(ms);
        return EncodeObject(message, obj, output) ? Flushed(output, ms) : null;
    }

    private static FieldJson Info(FieldDescriptor f) =>
        Json.Value.Fields.TryGetValue(f.ContainingType.FullName, out var m) && m.TryGetValue(f.Name, out var i) ? i : Plain;

    private static string JsonName(FieldDescriptor f) => Info(f).Json ?? f.Name;

    /// <summary>How deep messages (and envelopes in RawExtensions) may nest in a body: each nested stream starts a fresh protobuf recursion limit, this one does not.</summary>
    private const int MaxDepth = 64;

    [ThreadStatic]
    private static int _depth;

    /// <summary>Counts one level of nesting for the duration of the returned scope; too deep is a <see cref="ProtobufException"/>.</summary>
    internal static DepthScope Deeper() => new();

    internal readonly ref struct DepthScope
    {
        public DepthScope()
        {
            if (++_depth > MaxDepth)
            {
                _depth--;
                throw new ProtobufException($"the body nests deeper than {MaxDepth} messages");
            }
        }

        public void Dispose() => _depth--;
    }

    private static void DecodeInto(MessageDescriptor message, byte[] bytes, JsonObject obj)
    {
        using var depth = Deeper();
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var field = message.FindFieldByNumber(WireFormat.GetTagFieldNumber(tag));
            if (field is null)
            {
                input.SkipLastField();
                continue;
            }

            var info = Info(field);
            var name = info.Json ?? field.Name;
            if (field.IsMap)
            {
                var entry = field.MessageType;
                var e = new CodedInputStream(input.ReadBytes().ToByteArray());
                string key = string.Empty;
                JsonNode? value = null;
                uint t;
                while ((t = e.ReadTag()) != 0)
                {
                    switch (WireFormat.GetTagFieldNumber(t))
                    {
                        case 1: key = ReadScalar(e, entry.FindFieldByNumber(1))?.ToString() ?? string.Empty; break;
                        case 2: value = ReadValue(e, entry.FindFieldByNumber(2)); break;
                        default: e.SkipLastField(); break;
                    }
                }

                var map = obj[name] as JsonObject ?? new JsonObject();
                obj[name] = map;
                map[key] = value ?? ZeroOf(entry.FindFieldByNumber(2));
            }
            else if (field.IsRepeated)
            {
                var array = obj[name] as JsonArray ?? new JsonArray();
                obj[name] = array;
                if (WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited && IsPackable(field.FieldType))
                {
                    var packed = new CodedInputStream(input.ReadBytes().ToByteArray());
                    while (!packed.IsAtEnd)
                    {
                        array.Add(ReadScalar(packed, field));
                    }
                }
                else
                {
                    array.Add(ReadValue(input, field));
                }
            }
            else if (field.FieldType == FieldType.Message && info.Inline)
            {
                DecodeInto(field.MessageType, input.ReadBytes().ToByteArray(), obj);
            }
            else
            {
                var value = ReadValue(input, field);
                if (value is null && field.FieldType == FieldType.Message)
                {
                    // A zero time Go prints (omitempty does not omit a struct): "eventTime": null.
                    obj[name] = null;
                }
                else if (value is null || (!info.KeepZero && IsZero(value)))
                {
                    obj.Remove(name);
                }
                else
                {
                    obj[name] = value;
                }
            }
        }
    }

    private static JsonNode? ZeroOf(FieldDescriptor f) => f.FieldType switch
    {
        FieldType.String => JsonValue.Create(string.Empty),
        FieldType.Bool => JsonValue.Create(false),
        FieldType.Message or FieldType.Bytes => null,
        _ => JsonValue.Create(0),
    };

    private static bool IsPackable(FieldType t) => t is not (FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group);

    private static bool IsZero(JsonNode value) => value is JsonValue v && v.ToJsonString() is "0" or "\"\"" or "false";

    private static JsonNode? ReadValue(CodedInputStream input, FieldDescriptor field) =>
        field.FieldType == FieldType.Message ? DecodeMessageValue(field.MessageType, input.ReadBytes().ToByteArray()) : ReadScalar(input, field);

    private static JsonNode? ReadScalar(CodedInputStream input, FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Int32 => JsonValue.Create(input.ReadInt32()),
        FieldType.Int64 => JsonValue.Create(input.ReadInt64()),
        FieldType.UInt32 => JsonValue.Create(input.ReadUInt32()),
        FieldType.UInt64 => JsonValue.Create(input.ReadUInt64()),
        FieldType.SInt32 => JsonValue.Create(input.ReadSInt32()),
        FieldType.SInt64 => JsonValue.Create(input.ReadSInt64()),
        FieldType.Fixed32 => JsonValue.Create(input.ReadFixed32()),
        FieldType.Fixed64 => JsonValue.Create(input.ReadFixed64()),
        FieldType.SFixed32 => JsonValue.Create(input.ReadSFixed32()),
        FieldType.SFixed64 => JsonValue.Create(input.ReadSFixed64()),
        FieldType.Bool => JsonValue.Create(input.ReadBool()),
        FieldType.Double => JsonValue.Create(input.ReadDouble()),
        FieldType.Float => JsonValue.Create(input.ReadFloat()),
        FieldType.Enum => JsonValue.Create(input.ReadEnum()),
        FieldType.String => JsonValue.Create(input.ReadString()),
        FieldType.Bytes => JsonValue.Create(input.ReadBytes().ToBase64()),
        _ => throw new ProtobufException($"field {field.FullName} has an unsupported type {field.FieldType}"),
    };

    /// <summary>A nested message's JSON: the types with JSON of their own, or an object; null for a zero time.</summary>
    private static JsonNode? DecodeMessageValue(MessageDescriptor m, byte[] bytes)
    {
        switch (m.FullName)
        {
            case Meta + "Time":
            case Meta + "MicroTime":
                var (seconds, nanos) = ReadTimestamp(bytes);
                if (seconds == 0 && nanos == 0)
                {
                    return null;
                }

                // Go's Time marshals years 0-9999 only; beyond that, as for any malformed body, a 400.
                if (seconds < -62135596800 || seconds > 253402300799 || nanos is < 0 or > 999_999_999)
                {
                    throw new ProtobufException($"{m.Name} of {seconds} s and {nanos} ns is outside years 1 to 9999");
                }

                var at = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(nanos / 100);
                return m.Name == "Time"
                    ? at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
                    : at.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
            case Meta + "Duration":
                var ns = 0L;
                ForEachField(bytes, (n, i) => { if (n == 1) { ns = i.ReadInt64(); } else { i.SkipLastField(); } });
                return GoDuration.Format(ns);
            case "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
                long type = 0;
                int intVal = 0;
                var strVal = string.Empty;
                ForEachField(bytes, (n, i) =>
                {
                    switch (n)
                    {
                        case 1: type = i.ReadInt64(); break;
                        case 2: intVal = i.ReadInt32(); break;
                        case 3: strVal = i.ReadString(); break;
                        default: i.SkipLastField(); break;
                    }
                });
                return type == 1 ? JsonValue.Create(strVal) : JsonValue.Create(intVal);
            case "k8s.io.apimachinery.pkg.api.resource.Quantity":
                var q = string.Empty;
                ForEachField(bytes, (n, i) => { if (n == 1) { q = i.ReadString(); } else { i.SkipLastField(); } });
                return q;
            case "k8s.io.apimachinery.pkg.runtime.RawExtension":
            case Meta + "FieldsV1":
                var raw = ByteString.Empty;
                ForEachField(bytes, (n, i) => { if (n == 1) { raw = i.ReadBytes(); } else { i.SkipLastField(); } });
                if (raw.IsEmpty)
                {
                    return null;
                }

                return KubeProtobuf.HasMagic(raw.Span) ? KubeProtobuf.Decode(raw.Span) : JsonNode.Parse(raw.Span);
        }

        if (Json.Value.Slices.Contains(m.FullName))
        {
            var items = new JsonArray();
            var f = m.FindFieldByNumber(1);
            ForEachField(bytes, (n, i) =>
            {
                if (n == 1)
                {
                    items.Add(ReadValue(i, f));
                }
                else
                {
                    i.SkipLastField();
                }
            });
            return items;
        }

        var obj = new JsonObject();
        DecodeInto(m, bytes, obj);
        return obj;
    }

    private static (long Seconds, int Nanos) ReadTimestamp(byte[] bytes)
    {
        long seconds = 0;
        var nanos = 0;
        ForEachField(bytes, (n, i) =>
        {
            switch (n)
            {
                case 1: seconds = i.ReadInt64(); break;
                case 2: nanos = i.ReadInt32(); break;
                default: i.SkipLastField(); break;
            }
        });
        return (seconds, nanos);
    }

    private static void ForEachField(byte[] bytes, Action<int, CodedInputStream> read)
    {
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            read(WireFormat.GetTagFieldNumber(tag), input);
        }
    }

    // ---- JSON to protobuf ----

    private static bool EncodeObject(MessageDescriptor message, JsonObject obj, CodedOutputStream output)
    {
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        if (!EncodeFields(message, obj, output, consumed))
        {
            return false;
        }

        // A resource's apiVersion and kind travel in the envelope (or the list's), not in its message.
        var typeMetaOutside = message.FindFieldByName("metadata") is not null && message.FindFieldByName("kind") is null;
        return obj.All(kv => consumed.Contains(kv.Key) || (typeMetaOutside && kv.Key is "apiVersion" or "kind"));
    }

    private static bool EncodeFields(MessageDescriptor message, JsonObject obj, CodedOutputStream output, HashSet<string> consumed)
    {
        foreach (var field in message.Fields.InFieldNumberOrder())
        {
            var info = Info(field);
            if (info.Inline && field.FieldType == FieldType.Message)
            {
                using var ms = new MemoryStream();
                var nested = new CodedOutputStream(ms);
                var before = consumed.Count;
                if (!EncodeFields(field.MessageType, obj, nested, consumed))
                {
                    return false;
                }

                if (consumed.Count > before || info.KeepZero)
                {
                    output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                    output.WriteBytes(ByteString.CopyFrom(Flushed(nested, ms)));
                }

                continue;
            }

            var name = info.Json ?? field.Name;
            if (!obj.TryGetPropertyValue(name, out var node))
            {
                continue;
            }

            consumed.Add(name);
            if (node is null)
            {
                continue;
            }

            if (field.IsMap)
            {
                if (node is not JsonObject map)
                {
                    return false;
                }

                foreach (var (key, value) in map)
                {
                    using var ms = new MemoryStream();
                    var entry = new CodedOutputStream(ms);
                    if (!WriteValue(entry, field.MessageType.FindFieldByNumber(1), JsonValue.Create(key))
                        || (value is not null && !WriteValue(entry, field.MessageType.FindFieldByNumber(2), value)))
                    {
                        return false;
                    }

                    output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                    output.WriteBytes(ByteString.CopyFrom(Flushed(entry, ms)));
                }
            }
            else if (field.IsRepeated)
            {
                if (node is not JsonArray array || array.Any(e => e is null || !WriteValue(output, field, e)))
                {
                    return false;
                }
            }
            else if (!WriteValue(output, field, node))
            {
                return false;
            }
        }

        return true;
    }

    private static byte[] Flushed(CodedOutputStream output, MemoryStream ms)
    {
        output.Flush();
        return ms.ToArray();
    }

    private static bool WriteValue(CodedOutputStream output, FieldDescriptor field, JsonNode node)
    {
        if (field.FieldType == FieldType.Message)
        {
            if (EncodeMessageValue(field.MessageType, node) is not { } bytes)
            {
                return false;
            }

            output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(bytes));
            return true;
        }

        if (node is not JsonValue v)
        {
            return false;
        }

        switch (field.FieldType)
        {
            case FieldType.String when Text(v) is { } s:
                output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                output.WriteString(s);
                return true;
            case FieldType.Bytes when Text(v) is { } b64:
                ByteString bytes;
                try
                {
                    bytes = ByteString.FromBase64(b64);
                }
                catch (FormatException)
                {
                    return false;
                }

                output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(bytes);
                return true;
            case FieldType.Bool when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                var flag = v.GetValueKind() == JsonValueKind.True;
                output.WriteTag(field.FieldNumber, WireFormat.WireType.Varint);
                output.WriteBool(flag);
                return true;
            case FieldType.Double when Number(v) is { } d:
                output.WriteTag(field.FieldNumber, WireFormat.WireType.Fixed64);
                output.WriteDouble(d);
                return true;
            case FieldType.Int32 or FieldType.Int64 or FieldType.UInt32 or FieldType.UInt64 or FieldType.Enum when Integer(v) is { } l:
                output.WriteTag(field.FieldNumber, WireFormat.WireType.Varint);
                output.WriteInt64(l);
                return true;
            default:
                return false;
        }
    }

    private static double? Number(JsonValue v) =>
        v.GetValueKind() == JsonValueKind.Number && double.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;

    private static long? Integer(JsonValue v)
    {
        if (v.GetValueKind() != JsonValueKind.Number)
        {
            return null;
        }

        var text = v.ToJsonString();
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return l;
        }

        if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var u))
        {
            return unchecked((long)u);
        }

        return Number(v) is { } d && d == Math.Floor(d) && Math.Abs(d) < 9e15 ? (long)d : null;
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    private static byte[]? EncodeMessageValue(MessageDescriptor m, JsonNode node)
    {
        using var ms = new MemoryStream();
        var output = new CodedOutputStream(ms);
        switch (m.FullName)
        {
            case Meta + "Time":
            case Meta + "MicroTime":
                if (Text(node) is not { } text
                    || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                {
                    return null;
                }

                var ticks = at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
                output.WriteTag(1, WireFormat.WireType.Varint);
                output.WriteInt64(Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest));
                output.WriteTag(2, WireFormat.WireType.Varint);
                output.WriteInt32((int)(rest * 100));
                return Flushed(output, ms);
            case Meta + "Duration":
                if (Text(node) is not { } ds || GoDuration.Parse(ds) is not { } nanos)
                {
                    return null;
                }

                output.WriteTag(1, WireFormat.WireType.Varint);
                output.WriteInt64(nanos);
                return Flushed(output, ms);
            case "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
                if (node is not JsonValue iv)
                {
                    return null;
                }

                var str = Text(iv);
                var isString = str is not null;
                var number = isString ? 0 : Integer(iv);
                if (!isString && number is null)
                {
                    return null;
                }

                output.WriteTag(1, WireFormat.WireType.Varint);
                output.WriteInt64(isString ? 1 : 0);
                output.WriteTag(2, WireFormat.WireType.Varint);
                output.WriteInt32((int)(number ?? 0));
                output.WriteTag(3, WireFormat.WireType.LengthDelimited);
                output.WriteString(str ?? string.Empty);
                return Flushed(output, ms);
            case "k8s.io.apimachinery.pkg.api.resource.Quantity":
                if (node is not JsonValue qv)
                {
                    return null;
                }

                output.WriteTag(1, WireFormat.WireType.LengthDelimited);
                output.WriteString(Text(qv) ?? qv.ToJsonString());
                return Flushed(output, ms);
            case "k8s.io.apimachinery.pkg.runtime.RawExtension":
            case Meta + "FieldsV1":
                output.WriteTag(1, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(node)));
                return Flushed(output, ms);
        }

        if (Json.Value.Slices.Contains(m.FullName))
        {
            var f = m.FindFieldByNumber(1);
            return node is JsonArray items && items.All(e => e is not null && WriteValue(output, f, e)) ? Flushed(output, ms) : null;
        }

        return node is JsonObject obj && EncodeObject(m, obj, output) ? Flushed(output, ms) : null;
    }

    private static (Dictionary<string, Dictionary<string, FieldJson>>, HashSet<string>) LoadJson()
    {
        using var s = typeof(ProtoJson).Assembly.GetManifestResourceStream("kubernetes-json.json")
            ?? throw new InvalidOperationException("kubernetes-json.json is not embedded");
        var doc = JsonNode.Parse(s)!["messages"]!.AsObject();
        var fields = new Dictionary<string, Dictionary<string, FieldJson>>(StringComparer.Ordinal);
        var slices = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (message, entries) in doc)
        {
            var map = new Dictionary<string, FieldJson>(StringComparer.Ordinal);
            foreach (var (field, info) in entries!.AsObject())
            {
                if (field == "$slice")
                {
                    slices.Add(message);
                    continue;
                }

                map[field] = new FieldJson(info!["json"]?.GetValue<string>(), info["keepZero"]?.GetValue<bool>() == true, info["inline"]?.GetValue<bool>() == true);
            }

            fields[message] = map;
        }

        return (fields, slices);
    }
}

/// <summary>Go's time.Duration text ("1h2m3.5s", "300ms", "0s"), which metav1.Duration uses in JSON.</summary>
internal static class GoDuration
{
    private static readonly (string Unit, long Nanos)[] Units =
        [("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000)];

    public static string Format(long ns)
    {
        if (ns == 0)
        {
            return "0s";
        }

        var sign = ns < 0 ? "-" : string.Empty;
        var u = (ulong)Math.Abs(ns);
        if (u < 1_000_000_000)
        {
            var (unit, scale) = u < 1_000 ? ("ns", 1UL) : u < 1_000_000 ? ("µs", 1_000UL) : ("ms", 1_000_000UL);
            return sign + Fraction(u, scale) + unit;
        }

        var sb = new StringBuilder(sign);
        var hours = u / 3_600_000_000_000;
        u %= 3_600_000_000_000;
        var minutes = u / 60_000_000_000;
        u %= 60_000_000_000;
        if (hours > 0)
        {
            sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        }

        if (hours > 0 || minutes > 0)
        {
            sb.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        }

        return sb.Append(Fraction(u, 1_000_000_000)).Append('s').ToString();
    }

    private static string Fraction(ulong value, ulong scale)
    {
        var whole = (value / scale).ToString(CultureInfo.InvariantCulture);
        var rest = value % scale;
        if (rest == 0)
        {
            return whole;
        }

        var digits = scale.ToString(CultureInfo.InvariantCulture).Length - 1;
        return whole + "." + rest.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0').TrimEnd('0');
    }

    public static long? Parse(string text)
    {
        var s = text.Trim();
        var negative = s.StartsWith('-');
        s = s.TrimStart('-', '+');
        if (s == "0")
        {
            return 0;
        }

        double total = 0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (start == i || !double.TryParse(s[start..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
            {
                return null;
            }

            var unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.')
            {
                i++;
            }

            var unit = s[unitStart..i];
            var match = Units.FirstOrDefault(x => x.Unit == unit);
            if (match.Unit is null)
            {
                return null;
            }

            total += n * match.Nanos;
        }

        return s.Length == 0 ? null : (long)Math.Round(negative ? -total : total);
    }
}
