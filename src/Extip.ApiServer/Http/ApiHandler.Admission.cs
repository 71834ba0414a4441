using System.Text.Json.Nodes;
using Extip.ApiServer.Admission;
using Extip.ApiServer.Resources;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

/// <summary>
/// Validating admission inside a write. Webhooks are slow and remote, and the store's lock is
/// neither: a write computes its object under the lock, and when webhooks must see it, leaves
/// the lock (<see cref="AdmissionNeeded"/>), calls them, and runs again. The second run goes
/// through only if the stored object is still the one the webhooks judged the change against,
/// as kube-apiserver's GuaranteedUpdate retries.
/// </summary>
public sealed partial class ApiHandler
{
    /// <summary>One write's admission state across its runs.</summary>
    private sealed class AdmissionTicket(string ns, bool dryRun, Authorization.UserInfo? user)
    {
        public Authorization.UserInfo? User { get; } = user;

        public string Namespace { get; } = ns;

        public bool DryRun { get; } = dryRun;

        /// <summary>The stored resourceVersion the webhooks approved the change against (0: absent); null until approved.</summary>
        public long? ApprovedAgainst { get; set; }
    }

    private sealed class AdmissionNeeded : Exception
    {
        public AdmissionNeeded()
        {
        }

        public AdmissionNeeded(string message)
            : base(message)
        {
        }

        public AdmissionNeeded(string message, Exception inner)
            : base(message, inner)
        {
        }

        public IReadOnlyList<Hook> Hooks { get; init; } = [];

        public AdmissionAttributes? Attributes { get; init; }

        public long Against { get; init; }
    }

    /// <summary>Inside the write: returns when no webhook must see it, or they approved it against this stored version.</summary>
    private void Admit(AdmissionTicket ticket, ResourceType type, string operation, string? subresource, string name, JsonObject obj, JsonObject? old, long against)
    {
        var attributes = new AdmissionAttributes(type, operation, subresource, ticket.Namespace, name, obj, old, ticket.DryRun, ticket.User);
        var hooks = admission.Matching(attributes);
        if (hooks.Count == 0 || ticket.ApprovedAgainst == against)
        {
            return;
        }

        throw new AdmissionNeeded("webhooks must see this write")
        {
            Hooks = hooks,
            Attributes = attributes with { Object = FromStorage(type, obj), OldObject = old is null ? null : FromStorage(type, old) },
            Against = against,
        };
    }

    /// <summary>Runs <paramref name="write"/>, calling the webhooks it asks for between runs.</summary>
    private async Task<T> AdmittedAsync<T>(HttpContext http, AdmissionTicket ticket, Func<T> write)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return write();
            }
            catch (AdmissionNeeded need) when (attempt < 10)
            {
                foreach (var warning in await admission.ReviewAsync(need.Hooks, need.Attributes!, http.RequestAborted))
                {
                    http.Response.Headers.Append("Warning", $"299 - \"{warning.Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
                }

                ticket.ApprovedAgainst = need.Against;
            }
        }
    }
}
