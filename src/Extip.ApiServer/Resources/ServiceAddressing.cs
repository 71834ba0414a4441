using System.Net;
using Extip.Core.Addresses;

namespace Extip.ApiServer.Resources;

/// <summary>Cluster IPs from the service range and node ports from 30000-32767, as the real server allocates them.</summary>
public sealed class ServiceAddressing
{
    private readonly Lock _gate = new();
    private readonly HashSet<Address> _clusterIps = [];
    private readonly HashSet<int> _nodePorts = [];
    private readonly Cidr _range;

    public ServiceAddressing(string serviceCidr = "10.96.0.0/16", int nodePortLow = 30000, int nodePortHigh = 32767)
    {
        _range = Cidr.Parse(serviceCidr);
        NodePortLow = nodePortLow;
        NodePortHigh = nodePortHigh;
    }

    public int NodePortLow { get; }

    public int NodePortHigh { get; }

    public Cidr Range => _range;

    /// <summary>The first usable address: the <c>kubernetes</c> Service's.</summary>
    public Address First => new(_range.Family, _range.Network.Value + 1);

    public string AllocateClusterIp()
    {
        lock (_gate)
        {
            var size = (long)Math.Min((double)(_range.Broadcast.Value - _range.Network.Value), 1 << 20);
            for (var attempt = 0; attempt < 64; attempt++)
            {
                var a = new Address(_range.Family, _range.Network.Value + (UInt128)Random.Shared.NextInt64(2, size));
                if (_clusterIps.Add(a))
                {
                    return a.ToString();
                }
            }

            for (var v = _range.Network.Value + 2; v < _range.Broadcast.Value; v++)
            {
                var a = new Address(_range.Family, v);
                if (_clusterIps.Add(a))
                {
                    return a.ToString();
                }
            }

            throw new Http.ApiException(500, "InternalError", "failed to allocate a serviceIP: range is full");
        }
    }

    /// <summary>Claims a given cluster IP; null when fine, else the problem.</summary>
    public string? ClaimClusterIp(string ip)
    {
        if (!IPAddress.TryParse(ip, out var parsed))
        {
            return "must be a valid IP address";
        }

        var a = Address.FromIPAddress(parsed);
        if (!_range.Contains(a))
        {
            return $"provided IP is not in the valid range. The range of valid IPs is {_range}";
        }

        lock (_gate)
        {
            return _clusterIps.Add(a) ? null : "provided IP is already allocated";
        }
    }

    public void ReleaseClusterIp(string? ip)
    {
        if (ip is not null && Address.TryParse(ip, out var a))
        {
            lock (_gate)
            {
                _clusterIps.Remove(a);
            }
        }
    }

    public int AllocateNodePort()
    {
        lock (_gate)
        {
            var span = NodePortHigh - NodePortLow + 1;
            var start = Random.Shared.Next(span);
            for (var i = 0; i < span; i++)
            {
                var p = NodePortLow + ((start + i) % span);
                if (_nodePorts.Add(p))
                {
                    return p;
                }
            }

            throw new Http.ApiException(500, "InternalError", "failed to allocate a nodePort: range is full");
        }
    }

    public string? ClaimNodePort(int port)
    {
        if (port < NodePortLow || port > NodePortHigh)
        {
            return $"provided port is not in the valid range. The range of valid ports is {NodePortLow}-{NodePortHigh}";
        }

        lock (_gate)
        {
            return _nodePorts.Add(port) ? null : "provided port is already allocated";
        }
    }

    public void ReleaseNodePort(int port)
    {
        lock (_gate)
        {
            _nodePorts.Remove(port);
        }
    }
}
