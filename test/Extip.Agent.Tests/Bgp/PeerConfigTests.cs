using System.Net;
using Extip.Agent.Bgp;
using Extip.Bgp.Speaker;
using Extip.Kubernetes.Models;

namespace Extip.Agent.Tests.Bgp;

public sealed class PeerConfigTests
{
    private static readonly uint NodeId = PeerOptions.RouterIdOf(IPAddress.Parse("198.51.100.11"));

    private static BgpPeer Peer(Action<BgpPeerSpecModel>? configure = null)
    {
        var p = new BgpPeer { Metadata = new k8s.Models.V1ObjectMeta { Name = "tor" }, Spec = new BgpPeerSpecModel { PeerAddress = "198.51.100.1", PeerAsn = 64500, LocalAsn = 64512 } };
        configure?.Invoke(p.Spec);
        return p;
    }

    private static (string?, string?) NoSecret(SecretKeyRef r) => (null, $"Secret {r.Namespace}/{r.Name} does not exist");

    [Fact]
    public void Defaults_AreTheRfcOnes_AndTheNodesRouterId()
    {
        var (o, error) = PeerConfig.Build(Peer(), NodeId, NoSecret);
        Assert.Null(error);
        Assert.Equal(IPAddress.Parse("198.51.100.1"), o!.PeerAddress);
        Assert.Equal((179, 64512u, 64500u, NodeId), (o.PeerPort, o.LocalAs, o.PeerAs, o.RouterId));
        Assert.Equal(TimeSpan.FromSeconds(90), o.HoldTime);
        Assert.Null(o.Bfd);
        Assert.Null(o.Password);
    }

    [Fact]
    public void EveryField_IsCarriedOver()
    {
        var (o, error) = PeerConfig.Build(Peer(s =>
        {
            s.PeerAddress = "2001:db8:100::1";
            s.PeerPort = 1790;
            s.HoldTime = "1m30s";
            s.KeepaliveTime = "20s";
            s.ConnectTime = "500ms";
            s.SourceAddress = "2001:db8:100::b";
            s.RouterId = "192.0.2.7";
            s.EbgpMultiHop = 3;
            s.GracefulRestart = true;
            s.Bfd = new BfdModel { MinRxMs = 50, MinTxMs = 100, Multiplier = 5 };
            s.PasswordSecret = new SecretKeyRef { Namespace = "extip-system", Name = "tor", Key = "md5" };
        }), NodeId, r => r.Key == "md5" ? ("s3cret", null) : (null, "wrong key"));
        Assert.Null(error);
        Assert.Equal(1790, o!.PeerPort);
        Assert.Equal((TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(500)), (o.HoldTime, o.KeepaliveTime!.Value, o.ConnectRetry));
        Assert.Equal(IPAddress.Parse("2001:db8:100::b"), o.LocalAddress);
        Assert.Equal(PeerOptions.RouterIdOf(IPAddress.Parse("192.0.2.7")), o.RouterId);
        Assert.Equal((3, true, "s3cret"), (o.Ttl!.Value, o.GracefulRestart, o.Password));
        Assert.Equal((TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100), (byte)5), (o.Bfd!.MinRx, o.Bfd.MinTx, o.Bfd.Multiplier));
    }

    [Theory]
    [InlineData("address", "spec.peerAddress: \"198.51.100.999\" is not an IP address")]
    [InlineData("asn", "spec.peerASN: 0 is not an AS number")]
    [InlineData("hold", "spec.holdTime: \"soon\" is not a duration")]
    [InlineData("shorthold", "spec.holdTime 2 s: must be 0 or 3 to 65535")]
    [InlineData("keepalive", "spec.keepaliveTime 120 s: must be positive and shorter than the hold time (90 s)")]
    [InlineData("source", "spec.sourceAddress: 2001:db8::1 is not of the family of spec.peerAddress 198.51.100.1")]
    [InlineData("routerid", "spec.routerID: \"2001:db8::1\" is not a non-zero IPv4 address")]
    [InlineData("secret", "spec.passwordSecret: Secret extip-system/none does not exist")]
    [InlineData("bfd", "spec.bfd.multiplier: 0 is not 1 to 255")]
    public void BadFields_AreNamedWithTheirValue(string what, string message)
    {
        var (o, error) = PeerConfig.Build(Peer(s =>
        {
            switch (what)
            {
                case "address": s.PeerAddress = "198.51.100.999"; break;
                case "asn": s.PeerAsn = 0; break;
                case "hold": s.HoldTime = "soon"; break;
                case "shorthold": s.HoldTime = "2s"; break;
                case "keepalive": s.KeepaliveTime = "120s"; break;
                case "source": s.SourceAddress = "2001:db8::1"; break;
                case "routerid": s.RouterId = "2001:db8::1"; break;
                case "secret": s.PasswordSecret = new SecretKeyRef { Namespace = "extip-system", Name = "none" }; break;
                case "bfd": s.Bfd = new BfdModel { Multiplier = 0 }; break;
            }
        }), NodeId, NoSecret);
        Assert.Null(o);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void NodeSelector_PicksNodesByLabel_AndNoSelectorPicksAll()
    {
        var rack = new Dictionary<string, string> { ["rack"] = "r7", ["zone"] = "a" };
        Assert.True(PeerConfig.Selects(Peer(), rack));
        Assert.True(PeerConfig.Selects(Peer(s => s.NodeSelector = new LabelSelectorModel { MatchLabels = new() { ["rack"] = "r7" } }), rack));
        Assert.False(PeerConfig.Selects(Peer(s => s.NodeSelector = new LabelSelectorModel { MatchLabels = new() { ["rack"] = "r8" } }), rack));
        Assert.False(PeerConfig.Selects(Peer(s => s.NodeSelector = new LabelSelectorModel { MatchExpressions = [new SelectorRequirementModel { Key = "zone", Operator = "NotIn", Values = ["a"] }] }), rack));
        Assert.True(PeerConfig.Selects(Peer(s => s.NodeSelector = new LabelSelectorModel { MatchExpressions = [new SelectorRequirementModel { Key = "rack", Operator = "Exists" }] }), rack));
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("1m30s", 90)]
    [InlineData("500ms", 0.5)]
    [InlineData("2h", 7200)]
    [InlineData("45", 45)]
    public void Durations_ParseLikeKubernetesDurations(string text, double seconds)
    {
        Assert.True(PeerConfig.TryDuration(text, out var d));
        Assert.Equal(TimeSpan.FromSeconds(seconds), d);
    }

    [Theory]
    [InlineData("")]
    [InlineData("ten")]
    [InlineData("5 minutes")]
    [InlineData("-3")]
    [InlineData("3d")]
    [InlineData("1e400")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("1e300")]
    [InlineData("99999999999999999999999h")]
    public void BadDurations_AreRefused_NeverThrow(string text) => Assert.False(PeerConfig.TryDuration(text, out _));

    /// <summary>Issue 11: a non-finite or overflowing time threw out of the peer building, stopping every peer change on the node.</summary>
    [Theory]
    [InlineData("1e400", "spec.holdTime: \"1e400\" is not a duration (such as 90s or 3m; a finite, non-negative number)")]
    [InlineData("NaN", "spec.holdTime: \"NaN\" is not a duration (such as 90s or 3m; a finite, non-negative number)")]
    [InlineData("-Infinity", "spec.holdTime: \"-Infinity\" is not a duration (such as 90s or 3m; a finite, non-negative number)")]
    [InlineData("1e300", "spec.holdTime: \"1e300\" is not a duration (such as 90s or 3m; a finite, non-negative number)")]
    [InlineData("65536", "spec.holdTime 65536 s: must be 0 or 3 to 65535 whole seconds (RFC 4271 §4.2)")]
    [InlineData("2.5", "spec.holdTime 2.5 s: must be 0 or 3 to 65535 whole seconds (RFC 4271 §4.2)")]
    public void NonFiniteOrOverflowingHoldTime_IsAnErrorNamingIt_NeverADefault(string hold, string message)
    {
        var (o, error) = PeerConfig.Build(Peer(s => s.HoldTime = hold), NodeId, NoSecret);
        Assert.Null(o);
        Assert.Equal(message, error);
    }

    [Fact]
    public void NonFiniteKeepaliveAndConnectTimes_AreErrors()
    {
        Assert.Equal("spec.keepaliveTime: \"NaN\" is not a duration (such as 30s; a finite, non-negative number)", PeerConfig.Build(Peer(s => s.KeepaliveTime = "NaN"), NodeId, NoSecret).Error);
        Assert.Equal("spec.connectTime: \"1e400\" is not a duration (such as 5s; a finite, non-negative number)", PeerConfig.Build(Peer(s => s.ConnectTime = "1e400"), NodeId, NoSecret).Error);
    }

    /// <summary>Issue 11: an unknown operator acted as In, and an unknown selector field was ignored.</summary>
    [Theory]
    [InlineData("Notin", null, "spec.nodeSelector.matchExpressions[0].operator: \"Notin\" is not one of In, NotIn, Exists, DoesNotExist")]
    [InlineData("1", null, "spec.nodeSelector.matchExpressions[0].operator: \"1\" is not one of In, NotIn, Exists, DoesNotExist")]
    [InlineData("In, NotIn", null, "spec.nodeSelector.matchExpressions[0].operator: \"In, NotIn\" is not one of In, NotIn, Exists, DoesNotExist")]
    [InlineData(null, null, "spec.nodeSelector.matchExpressions[0].operator: required (one of In, NotIn, Exists, DoesNotExist)")]
    [InlineData("NotIn", "matchLabel", "spec.nodeSelector.matchLabel: unknown field (a label selector has matchLabels and matchExpressions)")]
    public void BadNodeSelector_IsAnError_NeverSelectsTheNode(string? op, string? unknownField, string message)
    {
        var selector = new LabelSelectorModel { MatchExpressions = [new SelectorRequirementModel { Key = "zone", Operator = op, Values = ["b"] }] };
        if (unknownField is not null)
        {
            selector.Unknown = new() { [unknownField] = System.Text.Json.JsonDocument.Parse("{\"rack\":\"r7\"}").RootElement };
        }

        var peer = Peer(s => s.NodeSelector = selector);
        var (selected, error) = PeerConfig.Selection(peer, new Dictionary<string, string> { ["zone"] = "a" });
        Assert.False(selected);
        Assert.Equal(message, error);
        Assert.False(PeerConfig.Selects(peer, new Dictionary<string, string> { ["zone"] = "a" }));
    }
}
