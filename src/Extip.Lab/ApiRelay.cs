using System.Net;
using System.Net.Sockets;

namespace Extip.Lab;

/// <summary>
/// One node's way to the API server: a TCP relay on loopback that the node's agent uses instead
/// of the server's own port, so that the lab can cut that node off from the API server alone
/// while its data traffic flows. The agents run in the root namespace (they drive their node's
/// namespace through netlink), so their API traffic never crosses the node's namespace, where a
/// firewall rule could drop it; the relay drops it instead. Cut: every byte either way is
/// discarded, and new connections are accepted and then left silent (as a dropped SYN-ACK's peer
/// would see: requests that hang until the client gives up). Heal: connections from the cut
/// are closed (their streams lost bytes), new ones flow again.
/// </summary>
public sealed class ApiRelay : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<(TcpClient Client, TcpClient? Upstream)> _connections = [];
    private readonly Task? _accepting;
    private volatile bool _cut;

    /// <param name="target">The API server.</param>
    /// <param name="listenIn">
    /// The network namespace whose loopback the relay listens on (null: this process's). A node's
    /// agent in a container lives in its node's namespace, as a hostNetwork pod does, and reaches
    /// the server there; the relay itself connects to the server from here.
    /// </param>
    public ApiRelay(IPEndPoint target, string? listenIn = null)
    {
        _target = target;
        _listener = Extip.Netlink.NetNs.Run(listenIn, () =>
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return listener;
        });
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(() => AcceptAsync(_stop.Token));
    }

    public int Port { get; }

    public bool IsCut => _cut;

    public void Cut()
    {
        lock (_gate)
        {
            _cut = true;
        }
    }

    public void Heal()
    {
        List<(TcpClient Client, TcpClient? Upstream)> broken;
        lock (_gate)
        {
            _cut = false;
            broken = [.. _connections];
            _connections.Clear();
        }

        foreach (var (client, upstream) in broken)
        {
            client.Dispose();
            upstream?.Dispose();
        }
    }

    private async Task AcceptAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => RelayAsync(client, ct), CancellationToken.None);
        }
    }

    private async Task RelayAsync(TcpClient client, CancellationToken ct)
    {
        TcpClient? upstream = null;
        try
        {
            if (!_cut)
            {
                upstream = new TcpClient();
                await upstream.ConnectAsync(_target, ct).ConfigureAwait(false);
            }

            lock (_gate)
            {
                _connections.Add((client, upstream));
            }

            if (upstream is null)
            {
                // Accepted during a cut: silence until it is healed (and this one closed).
                await PumpAsync(client.GetStream(), null, ct).ConfigureAwait(false);
                return;
            }

            await Task.WhenAny(PumpAsync(client.GetStream(), upstream.GetStream(), ct), PumpAsync(upstream.GetStream(), client.GetStream(), ct)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            lock (_gate)
            {
                _connections.RemoveAll(c => c.Client == client);
            }

            client.Dispose();
            upstream?.Dispose();
        }
    }

    /// <summary>Copies from one side to the other; while cut, what arrives is dropped.</summary>
    private async Task PumpAsync(NetworkStream from, NetworkStream? to, CancellationToken ct)
    {
        var buffer = new byte[16384];
        while (true)
        {
            var n = await from.ReadAsync(buffer, ct).ConfigureAwait(false);
            if (n == 0)
            {
                return;
            }

            if (!_cut && to is not null)
            {
                await to.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        Heal();
        if (_accepting is not null)
        {
            await _accepting.ConfigureAwait(false);
        }

        _stop.Dispose();
    }
}
