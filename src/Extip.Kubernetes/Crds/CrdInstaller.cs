using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Extip.Kubernetes.Client;

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
                return Models.ExtipJson.Deserialize<V1CustomResourceDefinition>(Extip.Core.Yaml.YamlJson.Document(r.ReadToEnd()).ToJsonString());
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
                await client.CreateAsync(Path(), crd, ct);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
            {
                var existing = await client.GetAsync<V1CustomResourceDefinition>(Path(crd.Metadata.Name), ct);
                crd.Metadata.ResourceVersion = existing.Metadata.ResourceVersion;
                await client.ReplaceAsync(Path(crd.Metadata.Name), crd, ct);
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
                    await client.ProbeAsync(ApiPath.Query(ApiPath.Group($"{crd.Spec.Group}/{crd.Spec.Versions[0].Name}", crd.Spec.Names.Plural), limit: 1), ct);
                    break;
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound && clock.GetUtcNow() < deadline)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), clock, ct);
                }
            }
        }
    }

    private static string Path(string? name = null) => ApiPath.Group("apiextensions.k8s.io/v1", "customresourcedefinitions", name: name);
}
