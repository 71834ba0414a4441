using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Storage;

namespace Extip.ApiServer.Authorization;

/// <summary>
/// ServiceAccount tokens from the TokenRequest API (<c>serviceaccounts/NAME/token</c>), as
/// kube-apiserver issues them for projected volumes: a signed JWT (HS256 here, with a key derived
/// from the server's own token, so a restarted server still accepts them) naming the
/// ServiceAccount and, when bound, the Pod or Secret it lives and dies with. A token
/// authenticates only while it has not expired (on this server's clock), its ServiceAccount and
/// bound object still exist with the uids it names; a Pod-bound token's user carries the pod in
/// its extra attributes, which is how a webhook knows which pod (and so which node) is asking.
/// </summary>
public sealed class ServiceAccountTokens(string serverToken, ObjectStore store, ResourceRegistry registry, TimeProvider time)
{
    public const string PodNameKey = "authentication.kubernetes.io/pod-name";
    public const string PodUidKey = "authentication.kubernetes.io/pod-uid";
    public const string Issuer = "https://kubernetes.default.svc";

    private readonly byte[] _key = SHA256.HashData(Encoding.UTF8.GetBytes("extip serviceaccount tokens\n" + serverToken));

    /// <summary>A bound object: its kind (Pod or Secret), name and uid.</summary>
    public sealed record Bound(string Kind, string Name, string Uid);

    /// <summary>A token for <paramref name="serviceAccount"/> (uid <paramref name="serviceAccountUid"/>) valid until <paramref name="expires"/>.</summary>
    public string Issue(string ns, string serviceAccount, string serviceAccountUid, Bound? bound, IReadOnlyList<string> audiences, DateTimeOffset expires)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var k8s = new JsonObject
        {
            ["namespace"] = ns,
            ["serviceaccount"] = new JsonObject { ["name"] = serviceAccount, ["uid"] = serviceAccountUid },
        };
        if (bound is not null)
        {
            k8s[bound.Kind.ToLowerInvariant()] = new JsonObject { ["name"] = bound.Name, ["uid"] = bound.Uid };
        }

        var payload = new JsonObject
        {
            ["aud"] = new JsonArray(audiences.Select(a => (JsonNode)JsonValue.Create(a)).ToArray()),
            ["exp"] = expires.ToUnixTimeSeconds(),
            ["iat"] = now,
            ["iss"] = Issuer,
            ["kubernetes.io"] = k8s,
            ["nbf"] = now,
            ["sub"] = $"system:serviceaccount:{ns}:{serviceAccount}",
        };
        var signed = Base64Url("""{"alg":"HS256","typ":"JWT"}"""u8) + "." + Base64Url(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        return signed + "." + Base64Url(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(signed)));
    }

    /// <summary>The user a token presented as a bearer token stands for, or null when it is not one of ours or no longer valid.</summary>
    public UserInfo? Authenticate(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        var expected = HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(parts[0] + "." + parts[1]));
        if (!TryBase64Url(parts[2], out var signature) || !CryptographicOperations.FixedTimeEquals(signature, expected)
            || !TryBase64Url(parts[1], out var body) || JsonNode.Parse(body) is not JsonObject claims)
        {
            return null;
        }

        if (claims.Long("exp") is not { } exp || time.GetUtcNow().ToUnixTimeSeconds() >= exp)
        {
            return null;
        }

        var ns = claims.Str("kubernetes.io", "namespace");
        var sa = claims.Str("kubernetes.io", "serviceaccount", "name");
        if (ns is null || sa is null || !Exists("serviceaccounts", ns, sa, claims.Str("kubernetes.io", "serviceaccount", "uid")))
        {
            return null;
        }

        var extra = new Dictionary<string, IReadOnlyList<string>>();
        if (claims.At("kubernetes.io", "pod") is JsonObject)
        {
            var pod = claims.Str("kubernetes.io", "pod", "name") ?? string.Empty;
            var podUid = claims.Str("kubernetes.io", "pod", "uid") ?? string.Empty;
            if (!Exists("pods", ns, pod, podUid))
            {
                return null;
            }

            extra[PodNameKey] = [pod];
            extra[PodUidKey] = [podUid];
        }

        if (claims.At("kubernetes.io", "secret") is JsonObject
            && !Exists("secrets", ns, claims.Str("kubernetes.io", "secret", "name") ?? string.Empty, claims.Str("kubernetes.io", "secret", "uid")))
        {
            return null;
        }

        return new UserInfo($"system:serviceaccount:{ns}:{sa}", ["system:serviceaccounts", $"system:serviceaccounts:{ns}", UserInfo.Authenticated])
        {
            Uid = claims.Str("kubernetes.io", "serviceaccount", "uid") ?? string.Empty,
            Extra = extra,
        };
    }

    private bool Exists(string plural, string ns, string name, string? uid) =>
        registry.Find(string.Empty, "v1", plural) is { } type && store.Get(type, ns, name) is { } stored
        && (string.IsNullOrEmpty(uid) || stored.Object.Str("metadata", "uid") == uid);

    private static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryBase64Url(string text, out byte[] bytes)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        s = s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
        bytes = new byte[s.Length];
        if (Convert.TryFromBase64String(s, bytes, out var n))
        {
            bytes = bytes[..n];
            return true;
        }

        return false;
    }
}
