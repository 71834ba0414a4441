using Extip.Netlink.Native;

namespace Extip.Netlink;

/// <summary>
/// Named network namespaces (as <c>ip netns</c> keeps them under /run/netns). A socket belongs to
/// the namespace it was created in, so one process drives several namespaces by creating each
/// socket on a short-lived thread that has entered the namespace (setns is per thread).
/// </summary>
public static class NetNs
{
    public const string Directory = "/run/netns";

    public static string PathOf(string name) => Path.Combine(Directory, name);

    public static bool Exists(string name) => File.Exists(PathOf(name));

    public static IReadOnlyList<string> List() =>
        System.IO.Directory.Exists(Directory) ? System.IO.Directory.GetFiles(Directory).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList() : [];

    /// <summary>
    /// Moves the calling thread into the namespace for good: only for a thread made for the
    /// purpose, which never runs anything else afterwards.
    /// </summary>
    public static void Enter(string name)
    {
        var fd = Libc.Open(PathOf(name), Libc.ORdonly | Libc.OCloexec);
        if (fd < 0)
        {
            throw new NetlinkException(System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), $"open {PathOf(name)}", null);
        }

        try
        {
            if (Libc.SetNs(fd, Libc.CloneNewNet) != 0)
            {
                throw new NetlinkException(System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), $"enter network namespace \"{name}\"", null);
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Runs <paramref name="action"/> inside the namespace (or right here when <paramref name="name"/> is null).</summary>
    public static T Run<T>(string? name, Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (name is null)
        {
            return action();
        }

        if (!Exists(name))
        {
            throw new NetlinkException(NetlinkError.NoSuchNamespace, $"network namespace \"{name}\" does not exist ({PathOf(name)} is missing)");
        }

        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                Enter(name);

                // This thread now lives in the namespace; it ends right after, so it never runs
                // anything else there.
                result = action();
            }
            catch (Exception e)
            {
                error = e;
            }
        })
        {
            IsBackground = true,
            Name = $"netns {name}",
        };
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }

        return result;
    }
}
