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
        root.Subcommands.Add(BfdTransmitCommandLine.Build());
#if !EXTIP_DAEMONS
        // The image's binary (scripts/build-image.sh, -p:ExtipDaemons=true) is the daemons alone:
        // code that no command reaches is not compiled in, and a native binary's resident memory
        // grows with the code it carries.
        root.Subcommands.Add(StatusCommand.Build());
        root.Subcommands.Add(ExplainCommand.Build());
        root.Subcommands.Add(LabCommand.Build());
        root.Subcommands.Add(ApiServerCommand.Build());
        root.Subcommands.Add(BenchCommand.Build());
#endif
        return root;
    }
}
