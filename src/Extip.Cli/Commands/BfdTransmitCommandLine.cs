using System.CommandLine;
using Extip.Bgp.Bfd;

namespace Extip.Cli.Commands;

/// <summary>
/// <c>extip bfd-transmit</c>: the agent's child that sends BFD's periodic packets (see
/// <see cref="BfdTransmitWorker"/>). Not for people: the agent starts it and speaks to it on
/// its standard input.
/// </summary>
internal static class BfdTransmitCommandLine
{
    /// <summary>This CLI's assembly, for starting it again under <c>dotnet</c>.</summary>
    public static string Dll => typeof(BfdTransmitCommandLine).Assembly.Location;

    public static Command Build()
    {
        var netns = new Option<string?>("--netns") { Description = "Network namespace of the sessions' sockets." };
        var lease = new Option<int>("--lease-ms") { Description = "Milliseconds the packets go on after the agent last spoke.", DefaultValueFactory = _ => 1000 };
        var cmd = new Command("bfd-transmit", "Sends a BFD endpoint's periodic packets, as its agent tells it on standard input (started by the agent).")
        {
            netns, lease,
        };
        cmd.Hidden = true;
        cmd.SetAction(r =>
        {
            using var input = Console.OpenStandardInput();
            using var output = Console.OpenStandardOutput();
            return BfdTransmitWorker.Run(r.GetValue(netns), TimeSpan.FromMilliseconds(Math.Max(100, r.GetValue(lease))), input, output);
        });
        return cmd;
    }
}
