using System.Net;
using System.Text.Json;
using Extip.Core.Concurrency;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using Extip.Netlink;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Extip.Agent;

/// <summary>
/// The agent's IPNode status: addresses and their states, interfaces, BGP sessions, the Ready
/// condition. Passes post what they found; this writes it from its own loop, so that a slow or
/// absent API server never delays the dataplane (least of all the fencing). Written only when it
/// says something new; Ready keeps its transition time while it stays what it was.
/// </summary>
internal sealed partial class StatusWriter(IKubernetes client, AgentOptions options, Func<List<PeerStatus>?> peerStatus, ILogger logger)
{
    private readonly Wakeup _wake = new(options.Time);
    private readonly Lock _gate = new();
    private (IReadOnlyList<AddressState> States, IReadOnlyList<InterfaceState> Interfaces, bool Fenced)? _pending;
    private string? _last;
    private List<Condition>? _lastConditions;
    private string? _lastError;

    /// <summary>What a pass found: written soon, the latest post winning.</summary>
    public void Post(IReadOnlyList<AddressState> states, IReadOnlyList<InterfaceState> interfaces, bool fenced)
    {
        lock (_gate)
        {
            _pending = (states, interfaces, fenced);
        }

        _wake.Set();
    }

    /// <summary>Something beside the pass changed (BGP sessions): write again.</summary>
    public void Poke() => _wake.Set();

    /// <summary>Writes the latest posted status whenever one is posted (or BGP changed), until stopped.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (await _wake.WaitAsync(Timeout.InfiniteTimeSpan, ct).ConfigureAwait(false))
            {
                (IReadOnlyList<AddressState> States, IReadOnlyList<InterfaceState> Interfaces, bool Fenced)? next;
                lock (_gate)
                {
                    next = _pending;
                }

                if (next is { } n)
                {
                    await WriteAsync(n.States, n.Interfaces, n.Fenced, stopping: false, ct).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>Writes the status now, when it says something new (a stopping agent's last word goes through here).</summary>
    public async Task WriteAsync(IReadOnlyList<AddressState> states, IReadOnlyList<InterfaceState> interfaces, bool fenced, bool stopping, CancellationToken ct)
    {
        var held = states.Where(s => s.State == AddressState.Held).ToList();
        var missing = states.Where(s => s.State != AddressState.Held).ToList();
        var conditions = new List<Condition>
        {
            new()
            {
                Type = "Ready",
                Status = !stopping && !fenced && missing.Count == 0 ? "True" : "False",
                Reason = stopping ? "Stopped" : fenced ? "LeaseExpired" : missing.Count == 0 ? "AllHeld" : missing.Any(m => m.State == AddressState.Pending) ? "InterfaceMissing" : "AddFailed",
                Message = stopping ? "the agent stopped and removed its addresses"
                    : fenced ? "the agent could not renew its Lease in time and removed its addresses"
                    : missing.Count == 0 ? $"{held.Count} addresses held" : string.Join("; ", missing.Select(m => $"{m.Want}: {m.Message}")),
            },
        };
        var addresses = states.Select(s => new NodeAddressStatus
            {
                Address = s.Want.Address.ToString(),
                PrefixLength = s.Want.PrefixLength,
                Interface = s.Want.Interface,
                Mode = s.Want.Mode.ToString(),
                State = s.State,
                Message = s.Message,
                Since = s.Since,
            }).OrderBy(a => a.Address, StringComparer.Ordinal).ToList();
        var peers = peerStatus() ?? [];
        var status = new IpNodeStatusModel
        {
            Addresses = addresses,
            Peers = peers,
            Interfaces = interfaces.Select(i => new NodeInterface { Name = i.Name, Up = i.Up, Addresses = [.. i.Addresses] }).ToList(),
            Summary = IpNodeSummary.Of(addresses, peers),
            Conditions = conditions,
        };
        var text = JsonSerializer.Serialize(status, ExtipJson.Plain);
        if (text == _last)
        {
            return;
        }

        var now = options.Time.GetUtcNow().UtcDateTime;
        foreach (var c in conditions)
        {
            c.LastTransitionTime = now;
        }

        // Ready keeps its transition time while it stays what it was (a count of addresses changes, it does not).
        Conditions.KeepTransitions(conditions, _lastConditions);

        status.LastUpdate = now;
        try
        {
            await EnsureNodeAsync(ct).ConfigureAwait(false);
            var patch = JsonSerializer.Serialize(new { status }, ExtipJson.Plain);
            await client.PatchAsync(ApiPath.Extip(IpNode.Plural, options.Node, "status"), new V1Patch(patch, V1Patch.PatchType.MergePatch), ct).ConfigureAwait(false);
            _last = text;
            _lastConditions = conditions;
            _lastError = null;
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException)
        {
            if (e.Message != _lastError)
            {
                LogStatusFailed(logger, e.Message);
                _lastError = e.Message;
            }
        }
    }

    private async Task EnsureNodeAsync(CancellationToken ct)
    {
        if (_last is not null)
        {
            return;
        }

        try
        {
            await client.CreateAsync(
                ApiPath.Extip(IpNode.Plural),
                new IpNode { Metadata = new V1ObjectMeta { Name = options.Node }, ApiVersion = $"{ExtipApi.Group}/{ExtipApi.Version}" },
                ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
        }
    }

    [LoggerMessage(EventId = 510, Level = LogLevel.Warning, Message = "could not write the IPNode status: {Error}")]
    private static partial void LogStatusFailed(ILogger logger, string error);
}
