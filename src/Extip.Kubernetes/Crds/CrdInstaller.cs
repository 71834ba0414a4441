using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Extip.Kubernetes.Crds;

/// <summary>Installs (or updates) extip's CustomResourceDefinitions from deploy/crds, embedded in this assembly.</summary>
public static class CrdInstaller
{
    public static IReadOnlyList<V1CustomResourceDefinition> Definitions()
    {
        var asm = typeof(CrdInstaller).Assembly;
        return asm.GetManifestResourceNames().Where(n => n.StartsWith("crds/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            .Select(n =>
            {
                using var s = asm.GetManifestResourceStream(n)!;
                using var r = new StreamReader(s);
                return KubernetesJson.Deserialize<V1CustomResourceDefinition>(Extip.Core.Yaml.YamlJson.Document(r.ReadToEnd()).ToJsonString());
            })
            .ToList();
    }

    /// <summary>Creates or replaces every CRD, then waits until each resource is served.</summary>
    public static async Task InstallAsync(IKubernetes client, CancellationToken ct, TimeProvider? time = null)
    {
        foreach (var crd in Definitions())
        {
            try
            {
                await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd, cancellationToken: ct);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
            {
                var existing = await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync(crd.Metadata.Name, cancellationToken: ct);
                crd.Metadata.ResourceVersion = existing.Metadata.ResourceVersion;
                await client.ApiextensionsV1.ReplaceCustomResourceDefinitionAsync(crd, crd.Metadata.Name, cancellationToken: ct);
            }
        }

        foreach (var crd in Definitions())
        {
            var clock = time ?? TimeProvider.System;
            var deadline = clock.GetUtcNow().AddSeconds(60);
            while (true)
            {
                try
                {
                    await client.CustomObjects.ListClusterCustomObjectAsync(crd.Spec.Group, crd.Spec.Versions[0].Name, crd.Spec.Names.Plural, limit: 1, cancellationToken: ct);
                    break;
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound && clock.GetUtcNow() < deadline)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), clock, ct);
                }
            }
        }
    }
}
