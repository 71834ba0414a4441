using System.Security.Cryptography;
using System.Text;

namespace Extip.ApiServer.Authorization;

/// <summary>Who a request comes from, as kube-apiserver's authenticators name users.</summary>
public sealed record UserInfo(string Name, IReadOnlyList<string> Groups)
{
    public const string Masters = "system:masters";
    public const string Authenticated = "system:authenticated";

    /// <summary>The user's uid, as its authenticator gives it ("" when none).</summary>
    public string Uid { get; init; } = string.Empty;

    /// <summary>
    /// Extra attributes (user.Info's Extra): a bound ServiceAccount token's pod, as
    /// <c>authentication.kubernetes.io/pod-name</c> and <c>…/pod-uid</c>.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Extra { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    public bool IsMaster => Groups.Contains(Masters);
}

/// <summary>
/// Bearer tokens: the server's own (an administrator, in <c>system:masters</c>) and the lines of a
/// kube-apiserver token file (<c>--token-auth-file</c>: <c>token,user,uid[,"group1,group2"]</c>).
/// Every authenticated user is also in <c>system:authenticated</c>.
/// </summary>
public sealed class TokenAuthenticator
{
    private readonly List<(byte[] Token, UserInfo User)> _tokens = [];

    public TokenAuthenticator(string adminToken, string? tokenFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(adminToken);
        _tokens.Add((Encoding.UTF8.GetBytes(adminToken), new UserInfo("admin", [UserInfo.Masters, UserInfo.Authenticated])));
        if (tokenFile is null)
        {
            return;
        }

        var n = 0;
        foreach (var raw in File.ReadAllLines(tokenFile))
        {
            n++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var fields = SplitCsv(line);
            if (fields.Count < 3 || fields[0].Length == 0 || fields[1].Length == 0)
            {
                throw new FormatException($"{tokenFile}:{n}: expected token,user,uid[,\"group1,group2\"]");
            }

            var groups = fields.Count > 3 ? fields[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList() : [];
            groups.Add(UserInfo.Authenticated);
            _tokens.Add((Encoding.UTF8.GetBytes(fields[0]), new UserInfo(fields[1], groups) { Uid = fields[2] }));
        }
    }

    /// <summary>The user of an <c>Authorization: Bearer …</c> header, or null (401).</summary>
    public UserInfo? Authenticate(string? header)
    {
        const string Prefix = "Bearer ";
        if (header is null || !header.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var presented = Encoding.UTF8.GetBytes(header[Prefix.Length..].Trim());
        UserInfo? found = null;
        foreach (var (token, user) in _tokens)
        {
            // Every token compared in constant time, and all of them: the answer's timing says nothing.
            if (CryptographicOperations.FixedTimeEquals(presented, token))
            {
                found ??= user;
            }
        }

        return found;
    }

    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var b = new StringBuilder();
        var quoted = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                fields.Add(b.ToString());
                b.Clear();
            }
            else
            {
                b.Append(c);
            }
        }

        fields.Add(b.ToString());
        return fields;
    }
}
