using System.CommandLine;

namespace Extip.Cli.Commands;

/// <summary>A command of the design that does not exist yet: it says so and fails.</summary>
internal static class NotBuilt
{
    public const int ExitCode = 3;

    public static Command Command(string name, string description, int issue)
    {
        var c = new Command(name, $"{description} [not built yet]");
        c.SetAction(_ =>
        {
            Console.Error.WriteLine($"extip {name}: not built yet (tracked in issue #{issue}). Nothing was started.");
            return ExitCode;
        });
        return c;
    }
}
