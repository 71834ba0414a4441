using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

public sealed partial class ApiHandler
{
    /// <summary>
    /// <c>/_extip/faults</c>: GET shows them, DELETE clears them;
    /// POST <c>drop-watches</c>, <c>compact</c>, <c>latency?ms=N</c>, <c>fail?count=N&amp;status=S[&amp;verb=V][&amp;resource=R]</c>.
    /// </summary>
    private async Task AdminAsync(HttpContext http, string[] segs)
    {
        var q = http.Request.Query;
        var method = http.Request.Method;
        JsonNode result;
        switch (segs)
        {
            case ["_extip", "faults"] when method == "GET":
                result = JsonSerializer.SerializeToNode(faults.Describe())!;
                break;
            case ["_extip", "faults"] when method == "DELETE":
                faults.Clear();
                result = new JsonObject { ["cleared"] = true };
                break;
            case ["_extip", "faults", "drop-watches"] when method == "POST":
                result = new JsonObject { ["dropped"] = faults.DropWatches() };
                break;
            case ["_extip", "faults", "compact"] when method == "POST":
                faults.Compact();
                result = new JsonObject { ["compactedAt"] = store.CurrentResourceVersion.ToString(CultureInfo.InvariantCulture) };
                break;
            case ["_extip", "faults", "latency"] when method == "POST":
                faults.Latency = TimeSpan.FromMilliseconds(int.Parse(q["ms"].ToString(), CultureInfo.InvariantCulture));
                result = new JsonObject { ["latencyMs"] = faults.Latency.TotalMilliseconds };
                break;
            case ["_extip", "faults", "fail"] when method == "POST":
                var count = int.TryParse(q["count"], NumberStyles.None, CultureInfo.InvariantCulture, out var c) ? c : 1;
                var status = int.TryParse(q["status"], NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 500;
                var verb = q["verb"].ToString() is { Length: > 0 } v ? v : null;
                var resource = q["resource"].ToString() is { Length: > 0 } r ? r : null;
                faults.FailNext(count, status, verb, resource);
                result = new JsonObject { ["count"] = count, ["status"] = status, ["verb"] = verb, ["resource"] = resource };
                break;
            default:
                throw Errors.ResourceNotFound();
        }

        await WriteJsonAsync(http, 200, result);
    }
}
