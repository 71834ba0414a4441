namespace Extip.Core.Text;

/// <summary>
/// Names in the order a person reads them: runs of digits compare by their value, so k8s2 comes
/// before k8s10 (ordinal order puts k8s10, k8s11 between k8s1 and k8s2). The rest compares
/// ordinally; equal values with different leading zeros fall back to ordinal order, so two
/// different names never compare equal.
/// </summary>
public sealed class NaturalOrder : IComparer<string>
{
    public static readonly NaturalOrder Instance = new();

    private NaturalOrder()
    {
    }

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null || y is null)
        {
            return x is null ? -1 : 1;
        }

        int i = 0, j = 0;
        while (i < x.Length && j < y.Length)
        {
            if (char.IsAsciiDigit(x[i]) && char.IsAsciiDigit(y[j]))
            {
                var (fromI, nextI) = Digits(x, i);
                var (fromJ, nextJ) = Digits(y, j);
                var a = x.AsSpan(fromI, nextI - fromI);
                var b = y.AsSpan(fromJ, nextJ - fromJ);

                // Longer (without leading zeros) is larger; same length compares digit by digit.
                var c = a.Length != b.Length ? a.Length.CompareTo(b.Length) : a.SequenceCompareTo(b);
                if (c != 0)
                {
                    return c;
                }

                i = nextI;
                j = nextJ;
                continue;
            }

            if (x[i] != y[j])
            {
                return x[i].CompareTo(y[j]);
            }

            i++;
            j++;
        }

        var rest = (x.Length - i).CompareTo(y.Length - j);
        return rest != 0 ? rest : string.CompareOrdinal(x, y);
    }

    /// <summary>Where the run of digits at <paramref name="start"/> begins without its leading zeros, and where it ends.</summary>
    private static (int First, int End) Digits(string s, int start)
    {
        var end = start;
        while (end < s.Length && char.IsAsciiDigit(s[end]))
        {
            end++;
        }

        var first = start;
        while (first < end - 1 && s[first] == '0')
        {
            first++;
        }

        return (first, end);
    }
}
