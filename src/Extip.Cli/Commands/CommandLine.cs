using System.CommandLine;

namespace Extip.Cli.Commands;

/// <summary>The command tree of the <c>extip</c> CLI. Commands only wire; the work lives in libraries.</summary>
internal static class CommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("extip: external addresses for Services on bare-metal Kubernetes.");
        root.Subcommands.Add(ControllerCommand.Build());
        root.Subcommands.Add(AgentCommand.Build());
        root.Subcommands.Add(NotBuilt.Command("status", "Shows, per node, the addresses it holds, their modes and its peers.", 4));
        root.Subcommands.Add(NotBuilt.Command("lab", "Builds a small bare-metal site in network namespaces and runs extip in it.", 5));
        root.Subcommands.Add(ApiServerCommand.Build());
        root.Subcommands.Add(BenchCommand.Build());
        return root;
    }
}
