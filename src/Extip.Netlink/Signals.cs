using Extip.Netlink.Native;

namespace Extip.Netlink;

/// <summary>POSIX signals .NET's Process does not send: stop, continue and terminate, by pid.</summary>
public static class Signals
{
    public const int Kill = 9;
    public const int Term = 15;
    public const int Cont = 18;
    public const int Stop = 19;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false when there is no such process.</summary>
    public static bool Send(int pid, int signal) => Libc.Kill(pid, signal) == 0;
}
