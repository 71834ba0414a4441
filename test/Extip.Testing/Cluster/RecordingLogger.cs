using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Extip.Testing.Cluster;

/// <summary>Keeps the last log lines of a test's controllers, to show them when the test fails.</summary>
public sealed class RecordingLogger : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public string Dump() => string.Join("\n", _lines);

    public void Dispose()
    {
    }

    public void Add(string line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > 500)
        {
            _lines.TryDequeue(out _);
        }
    }

    private sealed class Logger(RecordingLogger owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? string.Empty : " " + exception.GetType().Name + ": " + exception.Message)}");
    }
}
