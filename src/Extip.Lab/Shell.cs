using System.Diagnostics;

namespace Extip.Lab;

/// <summary>Runs a command to completion and fails with its output when it fails.</summary>
public static class Shell
{
    public static string Run(string file, params string[] args) => Run(file, (IEnumerable<string>)args);

    public static string Run(string file, IEnumerable<string> args, bool check = true)
    {
        var (code, output, errors, command) = Exec(file, args);
        if (check && code != 0)
        {
            throw new LabException($"{command} failed with exit code {code}: {errors.Trim()}{output.Trim()}");
        }

        return output;
    }

    /// <summary>Runs the command and gives its exit code and standard output, whatever the code.</summary>
    public static (int Code, string Output) TryRun(string file, IEnumerable<string> args)
    {
        var (code, output, _, _) = Exec(file, args);
        return (code, output);
    }

    private static (int Code, string Output, string Errors, string Command) Exec(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        var output = stdout.GetAwaiter().GetResult();
        var errors = stderr.GetAwaiter().GetResult();
        return (p.ExitCode, output, errors, $"{file} {string.Join(' ', psi.ArgumentList)}");
    }

    public static bool Exists(string file) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Append("/usr/sbin").Append("/sbin").Any(d => File.Exists(Path.Combine(d, file)));
}

public sealed class LabException : Exception
{
    public LabException()
    {
    }

    public LabException(string message)
        : base(message)
    {
    }

    public LabException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
