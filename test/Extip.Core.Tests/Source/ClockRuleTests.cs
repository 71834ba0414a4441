using System.Text.RegularExpressions;

namespace Extip.Core.Tests.Source;

/// <summary>
/// The daemons read and wait on time only through an injected <see cref="TimeProvider"/>, so their
/// logic can run in virtual time: no <c>DateTime.UtcNow</c>, <c>DateTimeOffset.UtcNow</c>,
/// <c>DateTime.Now</c>, <c>Task.Delay</c> or a timed <c>CancellationTokenSource</c> without a provider (nor <c>CancelAfter</c>) in the daemons' libraries. (The CLI,
/// the lab and the benches are tools around them, on the real clock by nature: not checked.)
/// </summary>
public sealed partial class ClockRuleTests
{
    private static readonly string[] Daemons = ["Extip.Agent", "Extip.Controller", "Extip.Bgp", "Extip.Kubernetes", "Extip.Netlink", "Extip.Core"];

    [Fact]
    public void DaemonLibraries_ReadTimeOnlyThroughATimeProvider()
    {
        var root = RepositoryRoot();
        var found = new List<string>();
        foreach (var project in Daemons)
        {
            var dir = Path.Combine(root, "src", project);
            Assert.True(Directory.Exists(dir), $"{dir} is missing");
            foreach (var file in Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                    && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
            {
                var lines = File.ReadAllLines(file);
                for (var i = 0; i < lines.Length; i++)
                {
                    if (Violation(lines[i]) is { } what)
                    {
                        found.Add($"{Path.GetRelativePath(root, file)}:{i + 1}: {what}: {lines[i].Trim()}");
                    }
                }
            }
        }

        Assert.True(found.Count == 0, "read the clock through the injected TimeProvider instead:\n" + string.Join('\n', found));
    }

    [Theory]
    [InlineData("var now = DateTime.UtcNow;", "DateTime.UtcNow")]
    [InlineData("if (x < DateTimeOffset.UtcNow)", "DateTimeOffset.UtcNow")]
    [InlineData("var t = DateTime.Now;", "DateTime.Now")]
    [InlineData("await Task.Delay(100, ct);", "Task.Delay without a TimeProvider")]
    [InlineData("await Task.Delay(delay);", "Task.Delay without a TimeProvider")]
    [InlineData("await Task.Delay(_options.RenewInterval, _options.Time, ct);", null)]
    [InlineData("_ = Task.Delay(delay, _time).ContinueWith(_ => Add(key));", null)]
    [InlineData("await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);", null)]
    [InlineData("var now = _options.Time.GetUtcNow();", null)]
    [InlineData("bounded.CancelAfter(_options.DrainTimeout);", "CancelAfter (the real clock; use Deadline)")]
    [InlineData("using var t = new CancellationTokenSource(TimeSpan.FromSeconds(1));", "a timed CancellationTokenSource without a TimeProvider")]
    [InlineData("using var t = new CancellationTokenSource(timeout, Options.Time);", null)]
    [InlineData("var cts = new CancellationTokenSource();", null)]
    [InlineData("using var wait = new Deadline(Options.Time, timeout, ct);", null)]
    [InlineData("// DateTime.UtcNow in a comment", null)]
    public void TheRule_FindsWhatItShould(string line, string? expected) => Assert.Equal(expected, Violation(line));

    private static string? Violation(string line)
    {
        var code = line.Split("//", 2)[0];
        return code.Contains("DateTime.UtcNow", StringComparison.Ordinal) ? "DateTime.UtcNow"
            : code.Contains("DateTimeOffset.UtcNow", StringComparison.Ordinal) ? "DateTimeOffset.UtcNow"
            : DateTimeNow().IsMatch(code) ? "DateTime.Now"
            : code.Contains("Task.Delay(", StringComparison.Ordinal) && !DelayWithProvider().IsMatch(code) ? "Task.Delay without a TimeProvider"
            : code.Contains(".CancelAfter(", StringComparison.Ordinal) ? "CancelAfter (the real clock; use Deadline)"
            : TimedSourceWithoutProvider().IsMatch(code) ? "a timed CancellationTokenSource without a TimeProvider"
            : null;
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "extip.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException($"no extip.slnx above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"\bDateTime(Offset)?\.Now\b")]
    private static partial Regex DateTimeNow();

    // new CancellationTokenSource(delay) with one argument: a timer on the real clock.
    [GeneratedRegex(@"new CancellationTokenSource\([^,()]+(\([^()]*\))?[^,()]*\)")]
    private static partial Regex TimedSourceWithoutProvider();

    // The provider is the second argument: Task.Delay(x, provider[, ct]).
    [GeneratedRegex(@"Task\.Delay\([^;]*?,\s*(?:[\w!]+\.)*(?:Time|_time|time|clock|TimeProvider\.System)\s*[,)]")]
    private static partial Regex DelayWithProvider();
}
