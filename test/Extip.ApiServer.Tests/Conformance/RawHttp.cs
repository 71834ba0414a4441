using System.Net.Http.Headers;
using k8s;

namespace Extip.ApiServer.Tests.Conformance;

public abstract partial class ApiTests<TFixture>
{
    private static readonly HttpClient Insecure = new(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });

    protected static HttpClient RawClient => Insecure;

    /// <summary>The server URL and a function that authenticates a raw request as the kubeconfig says.</summary>
    protected (string Url, Action<HttpRequestMessage> Auth) Raw()
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(Fixture.Kubeconfig);
        return (config.Host.TrimEnd('/'), r =>
        {
            if (config.AccessToken is { } token)
            {
                r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
        });
    }

    protected async Task<(System.Net.HttpStatusCode Code, string Body)> SendRawAsync(HttpMethod method, string path, string? body = null, string contentType = "application/json", string? accept = null)
    {
        var (url, auth) = Raw();
        using var req = new HttpRequestMessage(method, url + path);
        if (body is not null)
        {
            req.Content = new StringContent(body, System.Text.Encoding.UTF8);
            req.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        if (accept is not null)
        {
            req.Headers.TryAddWithoutValidation("Accept", accept);
        }

        auth(req);
        using var res = await RawClient.SendAsync(req);
        return (res.StatusCode, await res.Content.ReadAsStringAsync());
    }
}
