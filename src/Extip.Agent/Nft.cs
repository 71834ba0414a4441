using System.ComponentModel;
using System.Diagnostics;
using Extip.Netlink;

namespace Extip.Agent;

/// <summary>The <c>nft</c> command (Debian's nftables) run in a network namespace.</summary>
public static class Nft
{
    /// <summary>Runs <c>nft -f -</c> with <paramref name="script"/> in the namespace (null: this one); returns why it failed, or null.</summary>
    public static string? Run(string? netns, string script) => Run(netns, script, out _);

    /// <summary>As <see cref="Run(string?, string)"/>; <paramref name="started"/> says whether nft could be started at all.</summary>
    public static string? Run(string? netns, string script, out bool started)
    {
        ArgumentNullException.ThrowIfNull(script);
        var ran = true;

        // A process forked from a thread inside the namespace starts in it.
        var result = NetNs.Run(netns, () =>
        {
            var start = new ProcessStartInfo("nft", ["-f", "-"])
            {
                RedirectStandardInput = true,
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            try
            {
                using var p = Process.Start(start)!;
                p.StandardInput.Write(script);
                p.StandardInput.Close();
                var stderr = p.StandardError.ReadToEndAsync();
                p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return p.ExitCode == 0 ? null : $"nft exited with {p.ExitCode}: {stderr.Result.Trim()}";
            }
            catch (Win32Exception e)
            {
                ran = false;
                return $"nft (Debian's nftables) could not be started: {e.Message}";
            }
        });
        started = ran;
        return result;
    }
}
