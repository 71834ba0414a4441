using System.Net;

namespace Extip.Cli;

/// <summary>What the CLI needs of the source checkout it was built from: tools/real-apiserver, and a port for it.</summary>
internal static class Checkout
{
    /// <summary>The checkout above the CLI's binaries, or null when it runs from elsewhere.</summary>
    public static string? Root()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "extip.slnx")))
            {
                return d.FullName;
            }
        }

        return null;
    }

    /// <summary>A loopback port for tools/real-apiserver/start.sh that is free, and so are the three above it by 10,000 (etcd's).</summary>
    public static int RealApiServerPort()
    {
        for (var port = 20000 + Random.Shared.Next(10000); ; port = 20000 + Random.Shared.Next(10000))
        {
            if (new[] { port, port + 10000, port + 10001, port + 10002 }.All(Free))
            {
                return port;
            }
        }

        static bool Free(int port)
        {
            try
            {
                using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, port);
                l.Start();
                return true;
            }
            catch (System.Net.Sockets.SocketException)
            {
                return false;
            }
        }
    }
}
