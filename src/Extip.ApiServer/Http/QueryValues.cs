using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

/// <summary>
/// Query parameters read as kube-apiserver's conversions read them (apimachinery's
/// Convert_Slice_string_To_bool and _To_int64): a boolean is false only for "0" or "false" in
/// any case and true for anything else, even an empty value (<c>?watch</c>, <c>watch=True</c> from
/// Python clients); an integer is Go's ParseInt, sign allowed, and a bad one is a 400.
/// </summary>
public static class QueryValues
{
    public static bool Bool(IQueryCollection q, string name)
    {
        if (!q.TryGetValue(name, out var values) || values.Count == 0)
        {
            return false;
        }

        var v = values[0] ?? string.Empty;
        return !(v == "0" || string.Equals(v, "false", StringComparison.OrdinalIgnoreCase));
    }

    public static long? Long(IQueryCollection q, string name)
    {
        if (!q.TryGetValue(name, out var values) || values.Count == 0)
        {
            return null;
        }

        var v = values[0] ?? string.Empty;
        if (!long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
        {
            throw Errors.BadRequest($"strconv.ParseInt: parsing \"{v}\": invalid syntax");
        }

        return n;
    }
}
