using System.Net;
using System.Net.Sockets;
using Extip.Netlink;
using Microsoft.Extensions.Logging;

namespace Extip.Agent.Peers;

/// <summary>
/// The heartbeat's UDP sockets (IPv4 and IPv6), opened in the node's network namespace so that
/// heartbeats travel the node's own networks: a heartbeat to a peer's address on the L2 segment
/// crosses that segment, as the ARP answers for the segment's claims do. Received datagrams are
/// verified and handed to the <see cref="PeerWitness"/> with the local interface they came in
/// through (found from the address they were sent to).
/// </summary>
public sealed partial class PeerLink : IDisposable
{
    private readonly Socket _v4;
    private readonly Socket? _v6;
    private readonly PeerWitness _witness;
    private readonly Func<ReadOnlyMemory<byte>, Heartbeat?> _verify;
    private readonly Func<IPAddress, string?> _interfaceOf;
    private readonly ILogger _logger;
    private string? _lastSendError;

    public PeerLink(string? netns, int port, PeerWitness witness, Func<ReadOnlyMemory<byte>, Heartbeat?> verify, Func<IPAddress, string?> interfaceOf, ILogger logger)
    {
        _witness = witness;
        _verify = verify;
        _interfaceOf = interfaceOf;
        _logger = logger;
        (_v4, _v6) = NetNs.Run(netns, () =>
        {
            var v4 = Open(AddressFamily.InterNetwork, IPAddress.Any, port);
            Socket? v6 = null;
            try
            {
                v6 = Open(AddressFamily.InterNetworkV6, IPAddress.IPv6Any, port);
            }
            catch (SocketException)
            {
                // No IPv6 in this namespace: heartbeats go over IPv4 only.
            }

            return (v4, v6);
        });
    }

    public long Received { get; private set; }

    public long Rejected { get; private set; }

    private static Socket Open(AddressFamily family, IPAddress any, int port)
    {
        var s = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (family == AddressFamily.InterNetworkV6)
            {
                s.DualMode = false;
                s.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.PacketInformation, true);
            }
            else
            {
                s.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
            }

            s.Bind(new IPEndPoint(any, port));
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    public Task RunAsync(CancellationToken ct) => Task.WhenAll(_v6 is null ? [ReceiveAsync(_v4, ct)] : [ReceiveAsync(_v4, ct), ReceiveAsync(_v6, ct)]);

    /// <summary>Sends one datagram to each target; an unreachable peer is no error.</summary>
    public async Task SendAsync(byte[] datagram, IEnumerable<IPEndPoint> targets, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(targets);
        foreach (var target in targets)
        {
            var socket = target.AddressFamily == AddressFamily.InterNetworkV6 ? _v6 : _v4;
            if (socket is null)
            {
                continue;
            }

            try
            {
                await socket.SendToAsync(datagram, SocketFlags.None, target, ct).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                if (e.Message != _lastSendError)
                {
                    _lastSendError = e.Message;
                    LogSendFailed(_logger, target.ToString(), e.Message);
                }
            }
        }
    }

    private async Task ReceiveAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[1024];
        EndPoint any = socket.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        while (!ct.IsCancellationRequested)
        {
            SocketReceiveMessageFromResult r;
            try
            {
                r = await socket.ReceiveMessageFromAsync(buffer, SocketFlags.None, any, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.MessageSize or SocketError.ConnectionReset)
            {
                continue;
            }

            var beat = _verify(buffer.AsMemory(0, r.ReceivedBytes));
            var through = _interfaceOf(r.PacketInformation.Address);
            if (beat is null || through is null || !_witness.Accept(beat, through))
            {
                Rejected++;
                continue;
            }

            Received++;
        }
    }

    public void Dispose()
    {
        _v4.Dispose();
        _v6?.Dispose();
    }

    [LoggerMessage(EventId = 540, Level = LogLevel.Debug, Message = "heartbeat to {Target} not sent: {Error}")]
    private static partial void LogSendFailed(ILogger logger, string target, string error);
}
