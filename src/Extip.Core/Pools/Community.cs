using System.Globalization;

namespace Extip.Core.Pools;

/// <summary>A BGP community: standard <c>asn:value</c> (RFC 1997) or large <c>global:local1:local2</c> (RFC 8092).</summary>
public readonly record struct Community(bool IsLarge, uint Global, uint Local1, uint Local2)
{
    public static bool TryParse(string text, out Community community, out string reason)
    {
        ArgumentNullException.ThrowIfNull(text);
        community = default;
        var parts = text.Split(':');
        if (parts.Length is not (2 or 3))
        {
            reason = "expected asn:value or global:local1:local2";
            return false;
        }

        var nums = new uint[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!uint.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out nums[i]))
            {
                reason = $"\"{parts[i]}\" is not a number";
                return false;
            }
        }

        if (parts.Length == 2)
        {
            if (nums[0] > ushort.MaxValue || nums[1] > ushort.MaxValue)
            {
                reason = "both halves of a standard community must be 0-65535";
                return false;
            }

            community = new(false, nums[0], nums[1], 0);
        }
        else
        {
            community = new(true, nums[0], nums[1], nums[2]);
        }

        reason = string.Empty;
        return true;
    }

    public override string ToString() => IsLarge
        ? string.Create(CultureInfo.InvariantCulture, $"{Global}:{Local1}:{Local2}")
        : string.Create(CultureInfo.InvariantCulture, $"{Global}:{Local1}");
}
