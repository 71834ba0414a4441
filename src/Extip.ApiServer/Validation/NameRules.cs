using System.Text.RegularExpressions;
using Extip.ApiServer.Http;

namespace Extip.ApiServer.Validation;

/// <summary>Kubernetes name and label rules, with the real server's messages.</summary>
public static partial class NameRules
{
    public static FieldError? Dns1123Subdomain(string field, string value)
    {
        if (value.Length > 253)
        {
            return FieldError.Invalid(field, value, "must be no more than 253 characters");
        }

        return Subdomain().IsMatch(value) ? null : FieldError.Invalid(field, value,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    }

    public static FieldError? Dns1123Label(string field, string value)
    {
        if (value.Length > 63)
        {
            return FieldError.Invalid(field, value, "must be no more than 63 characters");
        }

        return Label1123().IsMatch(value) ? null : FieldError.Invalid(field, value,
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
    }

    public static FieldError? Dns1035Label(string field, string value)
    {
        if (value.Length > 63)
        {
            return FieldError.Invalid(field, value, "must be no more than 63 characters");
        }

        return Label1035().IsMatch(value) ? null : FieldError.Invalid(field, value,
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
    }

    /// <summary>Label keys (optional DNS prefix, then a name) and values.</summary>
    public static IEnumerable<FieldError> Labels(string field, System.Text.Json.Nodes.JsonObject? labels)
    {
        if (labels is null)
        {
            yield break;
        }

        foreach (var (k, v) in labels)
        {
            var name = k.Contains('/') ? k[(k.IndexOf('/') + 1)..] : k;
            var prefix = k.Contains('/') ? k[..k.IndexOf('/')] : null;
            if (name.Length == 0 || name.Length > 63 || !QualifiedName().IsMatch(name) || (prefix is not null && Dns1123Subdomain(field, prefix) is not null))
            {
                yield return FieldError.Invalid(field, k,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
            }

            var value = v?.ToString() ?? string.Empty;
            if (value.Length > 63 || (value.Length > 0 && !QualifiedName().IsMatch(value)))
            {
                yield return FieldError.Invalid(field, value,
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
            }
        }
    }

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Subdomain();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Label1123();

    [GeneratedRegex(@"^[a-z]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Label1035();

    [GeneratedRegex(@"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")]
    private static partial Regex QualifiedName();
}
