using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Extip.Controller.Explain;

/// <summary><see cref="ServiceExplanation"/> as a user reads it, or as JSON.</summary>
public static class ExplainText
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string ToJson(ServiceExplanation e) => JsonSerializer.Serialize(e, Json);

    public static string Render(ServiceExplanation e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var sb = new StringBuilder();
        sb.AppendLine($"Service {e.Service} ({e.Type}, externalTrafficPolicy {e.TrafficPolicy})");
        sb.AppendLine($"{(e.Ok ? "OK" : "PROBLEM")}: {e.Cause}");
        if (!e.Handled)
        {
            return sb.ToString();
        }

        sb.AppendLine();
        sb.AppendLine("Pools:");
        foreach (var p in e.Pools)
        {
            sb.AppendLine($"  {(p.Chosen ? "*" : p.Serves ? "+" : "-")} {p.Pool}: {p.Why}");
        }

        if (e.Pools.Count == 0)
        {
            sb.AppendLine("  (none)");
        }

        foreach (var a in e.Addresses)
        {
            sb.AppendLine();
            sb.AppendLine(a.Claim is null
                ? $"Address {a.Address}: no IPClaim"
                : $"Address {a.Address}: IPClaim {a.Claim}, pool {a.Pool}, {a.Mode} on {a.Interface}, {a.Distribution}");
            foreach (var n in a.Nodes)
            {
                sb.AppendLine($"  {(n.Holds ? "*" : n.Eligible ? "+" : "-")} {n.Node}: {n.Why}");
                foreach (var peer in n.Peers)
                {
                    sb.AppendLine($"      BGP {peer}");
                }
            }
        }

        if (e.Warnings.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Recent warnings:");
            foreach (var w in e.Warnings)
            {
                sb.AppendLine($"  {w}");
            }
        }

        if (e.Network.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Network:");
            foreach (var n in e.Network)
            {
                sb.AppendLine($"  {n}");
            }
        }

        sb.AppendLine();
        sb.AppendLine("(* chosen/holds, + could, - cannot)");
        return sb.ToString();
    }
}
