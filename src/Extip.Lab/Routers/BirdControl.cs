using System.Net.Sockets;
using System.Text;

namespace Extip.Lab.Routers;

/// <summary>
/// BIRD's control socket (what birdc speaks): a command per line; each reply line starts with a
/// four-digit code, then '-' when more lines follow or ' ' on the last one; lines that start with
/// a space continue the previous code. Codes 8xxx and 9xxx are errors.
/// </summary>
public sealed class BirdControl : IDisposable
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly Stream _stream;

    private BirdControl(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new StreamReader(_stream, Encoding.ASCII);
    }

    public static async Task<BirdControl> ConnectAsync(string path, CancellationToken ct = default)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await s.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
            var c = new BirdControl(s);
            await c.ReadReplyAsync(ct).ConfigureAwait(false); // "0001 BIRD x.y ready."
            return c;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    /// <summary>Runs one command; returns the reply's text lines without their codes. A BIRD error throws with its text.</summary>
    public async Task<IReadOnlyList<string>> RunAsync(string command, CancellationToken ct = default)
    {
        var bytes = Encoding.ASCII.GetBytes(command + "\n");
        await _stream.WriteAsync(bytes, ct).ConfigureAwait(false);
        var (code, lines) = await ReadReplyAsync(ct).ConfigureAwait(false);
        if (code >= 8000)
        {
            throw new LabException($"birdc {command}: {string.Join(' ', lines)} ({code})");
        }

        return lines;
    }

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
        _socket.Dispose();
    }

    private async Task<(int Code, List<string> Lines)> ReadReplyAsync(CancellationToken ct)
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await _reader.ReadLineAsync(ct).ConfigureAwait(false) ?? throw new IOException("BIRD closed the control socket");
            if (line.StartsWith(' '))
            {
                lines.Add(line[1..]);
                continue;
            }

            if (line.Length < 5 || !int.TryParse(line.AsSpan(0, 4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code))
            {
                throw new IOException($"unexpected line from BIRD: \"{line}\"");
            }

            lines.Add(line[5..]);
            if (line[4] == ' ')
            {
                return (code, lines);
            }
        }
    }
}
