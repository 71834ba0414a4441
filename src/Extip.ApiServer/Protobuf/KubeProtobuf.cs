using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Extip.ApiServer.Protobuf;

/// <summary>
/// Kubernetes' protobuf wire format (<c>application/vnd.kubernetes.protobuf</c>) for the built-in
/// kinds: the <c>k8s\0</c> envelope around a <c>runtime.Unknown</c> that names the kind and carries
/// the object's message. The messages are Kubernetes' own, compiled from the generated.proto files
/// of Debian's kubernetes 1.20.2 source package (scripts/gen-kube-protobuf.py); how each maps to
/// JSON is <see cref="ProtoJson"/>'s work. Custom resources have no protobuf, as on kube-apiserver.
/// </summary>
public static class KubeProtobuf
{
    public const string MediaType = "application/vnd.kubernetes.protobuf";

    private static readonly byte[] Magic = "k8s\0"u8.ToArray();

    private static readonly Lazy<Dictionary<string, MessageDescriptor>> Messages = new(Load);

    /// <summary>Does the body start with the <c>k8s\0</c> envelope's magic?</summary>
    public static bool HasMagic(ReadOnlySpan<byte> body) => body.StartsWith(Magic);

    /// <summary>
    /// The message of a kind, e.g. <c>k8s.io.api.core.v1.Service</c> for (v1, Service), or null
    /// where the server has no protobuf for it. policy/v1 is served with the v1beta1 message, whose
    /// fields it shares.
    /// </summary>
    public static MessageDescriptor? MessageOf(string apiVersion, string kind)
    {
        var slash = apiVersion.IndexOf('/', StringComparison.Ordinal);
        var (group, version) = slash < 0 ? (string.Empty, apiVersion) : (apiVersion[..slash], apiVersion[(slash + 1)..]);
        var package = group switch
        {
            "" => $"k8s.io.api.core.{version}",
            "meta.k8s.io" => $"k8s.io.apimachinery.pkg.apis.meta.{version}",
            "policy" when version == "v1" => "k8s.io.api.policy.v1beta1",
            "discovery.k8s.io" when version == "v1" => null,
            _ when group.EndsWith(".k8s.io", StringComparison.Ordinal) || !group.Contains('.', StringComparison.Ordinal)
                => $"k8s.io.api.{group.Split('.')[0]}.{version}",
            _ => null,
        };
        if (package is null || kind.Length == 0)
        {
            return null;
        }

        // Status, WatchEvent and the option kinds (client-go sends DeleteOptions in the request's
        // group-version) are apimachinery's whatever the group.
        return Messages.Value.GetValueOrDefault($"{package}.{kind}")
            ?? (kind is "Status" or "WatchEvent" or "DeleteOptions" or "ListOptions" or "GetOptions" or "CreateOptions" or "UpdateOptions" or "PatchOptions"
                ? Messages.Value.GetValueOrDefault($"k8s.io.apimachinery.pkg.apis.meta.v1.{kind}") : null);
    }

    /// <summary>Reads an envelope: the kind it names and the object as JSON (with apiVersion and kind).</summary>
    /// <exception cref="ProtobufException">The body is not an envelope of a kind this server knows.</exception>
    public static JsonObject Decode(ReadOnlySpan<byte> body)
    {
        if (!HasMagic(body))
        {
            throw new ProtobufException("the body does not start with the k8s\\0 envelope");
        }

        using var depth = ProtoJson.Deeper();
        var input = new CodedInputStream(body[Magic.Length..].ToArray());
        string apiVersion = string.Empty, kind = string.Empty;
        var raw = ByteString.Empty;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    var meta = new CodedInputStream(input.ReadBytes().ToByteArray());
                    uint t;
                    while ((t = meta.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(t))
                        {
                            case 1: apiVersion = meta.ReadString(); break;
                            case 2: kind = meta.ReadString(); break;
                            default: meta.SkipLastField(); break;
                        }
                    }

                    break;
                case 2:
                    raw = input.ReadBytes();
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        var descriptor = MessageOf(apiVersion, kind)
            ?? throw new ProtobufKindException($"no kind \"{kind}\" is registered for version \"{apiVersion}\" in protobuf");
        var obj = ProtoJson.Decode(descriptor, raw.Span);
        var result = new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind };
        foreach (var (k, v) in obj.ToList())
        {
            obj.Remove(k);
            result[k] = v;
        }

        return result;
    }

    /// <summary>
    /// The envelope of an object that names its apiVersion and kind, or null when it cannot go as
    /// protobuf without losing something (a kind without a message, a field the message lacks):
    /// then the client gets JSON, which every client that asks for protobuf also accepts.
    /// </summary>
    public static byte[]? TryEncode(JsonObject obj)
    {
        if (obj["apiVersion"] is not JsonValue av || !av.TryGetValue<string>(out var apiVersion)
            || obj["kind"] is not JsonValue kv || !kv.TryGetValue<string>(out var kind)
            || MessageOf(apiVersion, kind) is not { } descriptor
            || ProtoJson.TryEncode(descriptor, obj) is not { } raw)
        {
            return null;
        }

        return Envelope(apiVersion, kind, raw);
    }

    /// <summary>The <c>k8s\0</c> envelope around a message's bytes, naming its kind.</summary>
    public static byte[] Envelope(string apiVersion, string kind, byte[] raw)
    {
        using var ms = new MemoryStream();
        ms.Write(Magic);
        var output = new CodedOutputStream(ms);
        var typeMeta = new MemoryStream();
        var tm = new CodedOutputStream(typeMeta);
        tm.WriteTag(1, WireFormat.WireType.LengthDelimited);
        tm.WriteString(apiVersion);
        tm.WriteTag(2, WireFormat.WireType.LengthDelimited);
        tm.WriteString(kind);
        tm.Flush();
        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(typeMeta.ToArray()));
        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(raw));
        output.WriteTag(3, WireFormat.WireType.LengthDelimited);
        output.WriteString(string.Empty);
        output.WriteTag(4, WireFormat.WireType.LengthDelimited);
        output.WriteString(string.Empty);
        output.Flush();
        return ms.ToArray();
    }

    private static Dictionary<string, MessageDescriptor> Load()
    {
        using var s = typeof(KubeProtobuf).Assembly.GetManifestResourceStream("kubernetes.protoset")
            ?? throw new InvalidOperationException("kubernetes.protoset is not embedded");
        var set = FileDescriptorSet.Parser.ParseFrom(s);
        var files = FileDescriptor.BuildFromByteStrings(set.File.Select(f => f.ToByteString()));
        var all = new Dictionary<string, MessageDescriptor>(StringComparer.Ordinal);
        foreach (var f in files)
        {
            foreach (var m in f.MessageTypes)
            {
                all[m.FullName] = m;
            }
        }

        return all;
    }
}

/// <summary>A protobuf body this server cannot read.</summary>
public class ProtobufException(string message) : Exception(message);

/// <summary>A protobuf body of a kind that has no message here (custom resources: JSON only).</summary>
public sealed class ProtobufKindException(string message) : ProtobufException(message);
