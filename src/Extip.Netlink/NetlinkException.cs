namespace Extip.Netlink;

/// <summary>What the kernel refused, in words a user acts on.</summary>
public enum NetlinkError
{
    Other,

    /// <summary>EEXIST: the address or route is there already.</summary>
    Exists,

    /// <summary>ENODEV: no such interface.</summary>
    NoSuchDevice,

    /// <summary>EADDRNOTAVAIL, ESRCH, ENOENT: the address or route to delete is not there.</summary>
    NotFound,

    /// <summary>EPERM, EACCES: the process lacks CAP_NET_ADMIN.</summary>
    PermissionDenied,

    /// <summary>EINVAL and friends: the request itself is wrong.</summary>
    Invalid,

    /// <summary>The network namespace does not exist.</summary>
    NoSuchNamespace,
}

/// <summary>A kernel error from a netlink request: the errno, what was asked, and the kernel's own message when it gave one.</summary>
public sealed class NetlinkException : Exception
{
    public NetlinkException(string message)
        : base(message)
    {
    }

    public NetlinkException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public NetlinkException()
    {
    }

    public NetlinkException(int errno, string operation, string? kernelMessage)
        : base(Format(errno, operation, kernelMessage))
    {
        Errno = errno;
        Error = Classify(errno);
        KernelMessage = kernelMessage;
    }

    public NetlinkException(NetlinkError error, string message)
        : base(message)
    {
        Error = error;
    }

    public int Errno { get; }

    public NetlinkError Error { get; }

    public string? KernelMessage { get; }

    public static NetlinkError Classify(int errno) => errno switch
    {
        17 => NetlinkError.Exists,
        19 => NetlinkError.NoSuchDevice,
        99 or 3 or 2 => NetlinkError.NotFound,
        1 or 13 => NetlinkError.PermissionDenied,
        22 or 34 or 95 or 97 => NetlinkError.Invalid,
        _ => NetlinkError.Other,
    };

    private static string Format(int errno, string operation, string? kernelMessage)
    {
        var text = $"{operation}: {Native.Libc.Describe(errno)} (errno {errno})";
        if (!string.IsNullOrEmpty(kernelMessage))
        {
            text += $": {kernelMessage}";
        }

        return Classify(errno) switch
        {
            NetlinkError.PermissionDenied => text + "; extip needs CAP_NET_ADMIN (run as root, or give the container NET_ADMIN)",
            NetlinkError.NoSuchDevice => text + "; the interface does not exist in this network namespace",
            _ => text,
        };
    }
}
