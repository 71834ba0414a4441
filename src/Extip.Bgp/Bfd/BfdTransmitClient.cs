using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Extip.Bgp.Bfd;

/// <summary>
/// An endpoint's side of its <see cref="BfdTransmitWorker"/>: starts the process, writes it
/// frames, reads back how many packets each session sent. A worker that dies is started again
/// and told every session afresh; until then the sessions' packets wait.
/// </summary>
internal sealed partial class BfdTransmitClient : IDisposable
{
    private static readonly TimeSpan RestartAfter = TimeSpan.FromSeconds(1);

    private readonly BfdTransmitCommand _command;
    private readonly string? _netns;
    private readonly TimeSpan _lease;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<uint, byte[]> _opened = [];
    private readonly Dictionary<uint, byte[]> _set = [];
    private readonly ConcurrentDictionary<uint, long> _sent = new();
    private readonly byte[] _keep = new byte[BfdTxFrame.Size];
    private Process? _process;
    private Stream? _input;
    private long _startedAt;
    private long _lastWrite;
    private bool _disposed;

    public BfdTransmitClient(BfdTransmitCommand command, string? netns, TimeSpan lease, ILogger logger)
    {
        _command = command;
        _netns = netns;
        _lease = lease;
        _logger = logger;
        BfdTxFrame.WriteBare(_keep, BfdTxFrame.Keep, 0);
    }

    /// <summary>How the worker's threads are scheduled, as it said when it started.</summary>
    public string Scheduling { get; private set; } = "not started";

    /// <summary>Times the worker stopped sending because this process had not spoken for the lease.</summary>
    public int Lapses => Volatile.Read(ref _lapses);

    private int _lapses;

    /// <summary>Workers started so far (1 unless one died).</summary>
    public int Starts { get; private set; }

    /// <summary>The worker's process id (0 before it starts).</summary>
    public int ProcessId { get; private set; }

    public long Sent(uint id) => _sent.TryGetValue(id, out var n) ? n : 0;

    public void Open(uint id, IPAddress peer, IPAddress? local, int port)
    {
        var f = new byte[BfdTxFrame.Size];
        BfdTxFrame.WriteOpen(f, id, peer, local, port);
        lock (_gate)
        {
            _opened[id] = f;
            Write(f);
        }
    }

    /// <summary>The session's periodic packet and interval (null: send none); <paramref name="frame"/> is the caller's buffer.</summary>
    public void Set(uint id, byte[] frame)
    {
        lock (_gate)
        {
            if (!_set.TryGetValue(id, out var last))
            {
                _set[id] = last = new byte[BfdTxFrame.Size];
            }

            frame.CopyTo(last, 0);
            Write(frame);
        }
    }

    public void Once(uint id, byte[] frame)
    {
        lock (_gate)
        {
            if (_opened.ContainsKey(id))
            {
                Write(frame);
            }
        }
    }

    public void Close(uint id)
    {
        var f = new byte[BfdTxFrame.Size];
        BfdTxFrame.WriteBare(f, BfdTxFrame.Close, id);
        lock (_gate)
        {
            _opened.Remove(id);
            _set.Remove(id);
            Write(f);
        }

        _sent.TryRemove(id, out _);
    }

    /// <summary>"Still alive", when nothing else was written for <paramref name="every"/>.</summary>
    public void Keep(TimeSpan every)
    {
        lock (_gate)
        {
            if (Stopwatch.GetElapsedTime(_lastWrite) >= every)
            {
                Write(_keep);
            }
        }
    }

    public void Dispose()
    {
        Process? p;
        lock (_gate)
        {
            _disposed = true;
            p = _process;
            _process = null;
            _input?.Dispose();
            _input = null;
        }

        if (p is not null)
        {
            // Its input closed, the worker closes its sockets and exits.
            if (!p.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                p.Kill();
            }

            p.Dispose();
        }
    }

    /// <summary>Under the lock: the frame to the worker, started (again) first when needed.</summary>
    private void Write(byte[] frame)
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            // Started again when it died: its replay of the sessions can fail as a write can.
            if (!EnsureStarted())
            {
                return;
            }

            _input!.Write(frame);
            _input.Flush();
            _lastWrite = Stopwatch.GetTimestamp();
        }
        catch (IOException e)
        {
            LogWorkerLost(_logger, e.Message);
            try
            {
                _input?.Dispose();
            }
            catch (IOException)
            {
                // What was left in its buffer has nowhere to go.
            }

            _input = null;
        }
    }

    private bool EnsureStarted()
    {
        if (_input is not null && _process is { HasExited: false })
        {
            return true;
        }

        if (Starts > 0 && Stopwatch.GetElapsedTime(_startedAt) < RestartAfter)
        {
            return false;
        }

        _startedAt = Stopwatch.GetTimestamp();
        var psi = new ProcessStartInfo(_command.File)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in _command.Args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.ArgumentList.Add("--lease-ms");
        psi.ArgumentList.Add(((long)_lease.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
        if (_netns is not null)
        {
            psi.ArgumentList.Add("--netns");
            psi.ArgumentList.Add(_netns);
        }

        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Starts++;
            LogCannotStart(_logger, _command.File, e.Message);
            return false;
        }

        Starts++;
        if (_process is { } old)
        {
            old.Dispose();
        }

        _process = p;
        ProcessId = p.Id;
        _input = p.StandardInput.BaseStream;
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                LogWorkerError(_logger, line);
            }
        };
        p.BeginErrorReadLine();
        var output = p.StandardOutput;
        new Thread(() => ReadLoop(output)) { IsBackground = true, Name = "bfd-tx-out" }.Start();
        if (Starts > 1)
        {
            LogRestarted(_logger, _opened.Count);
        }

        // Every session afresh: its socket, then its packet.
        foreach (var (id, f) in _opened)
        {
            _input.Write(f);
            if (_set.TryGetValue(id, out var s))
            {
                _input.Write(s);
            }
        }

        return true;
    }

    private void ReadLoop(StreamReader output)
    {
        try
        {
            while (output.ReadLine() is { } line)
            {
                var parts = line.Split(' ', 3);
                switch (parts[0])
                {
                    case "sent" when parts.Length == 3 && uint.TryParse(parts[1], CultureInfo.InvariantCulture, out var id) && long.TryParse(parts[2], CultureInfo.InvariantCulture, out var n):
                        _sent[id] = n;
                        break;
                    case "ready":
                        Scheduling = line[6..];
                        if (!Scheduling.StartsWith("SCHED_FIFO", StringComparison.Ordinal))
                        {
                            LogNotRealTime(_logger, Scheduling);
                        }

                        break;
                    case "lease" when parts.Length == 2 && parts[1] == "lapsed":
                        Interlocked.Increment(ref _lapses);
                        LogLapsed(_logger, _lease.TotalSeconds);
                        break;
                    default:
                        LogWorkerSaid(_logger, line);
                        break;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    [LoggerMessage(EventId = 660, Level = LogLevel.Warning, Message = "BFD transmit worker: {Line}")]
    private static partial void LogWorkerSaid(ILogger logger, string line);

    [LoggerMessage(EventId = 666, Level = LogLevel.Warning, Message = "BFD transmit worker: no word from this process for {Seconds} s, it stopped sending (the peers will declare the sessions down); a hung process, or one that got no CPU that long")]
    private static partial void LogLapsed(ILogger logger, double seconds);

    [LoggerMessage(EventId = 661, Level = LogLevel.Warning, Message = "BFD transmit worker (stderr): {Line}")]
    private static partial void LogWorkerError(ILogger logger, string line);

    [LoggerMessage(EventId = 662, Level = LogLevel.Error, Message = "BFD transmit worker lost ({Error}); starting it again, until then no BFD packets leave")]
    private static partial void LogWorkerLost(ILogger logger, string error);

    [LoggerMessage(EventId = 663, Level = LogLevel.Error, Message = "BFD transmit worker: cannot start {File}: {Error}")]
    private static partial void LogCannotStart(ILogger logger, string file, string error);

    [LoggerMessage(EventId = 664, Level = LogLevel.Warning, Message = "BFD transmit worker started again; {Sessions} sessions told afresh")]
    private static partial void LogRestarted(ILogger logger, int sessions);

    [LoggerMessage(EventId = 665, Level = LogLevel.Warning, Message = "BFD transmit worker runs in the normal class: {Scheduling}; a busy machine can delay its packets (grant CAP_SYS_NICE)")]
    private static partial void LogNotRealTime(ILogger logger, string scheduling);
}
