using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Extip.Kubernetes.Admission;

/// <summary>A CA and a serving certificate it signed, as PEM: what a webhook serves with and what its caBundle holds.</summary>
public sealed record WebhookPki(string CaCert, string CaKey, string Cert, string Key)
{
    /// <summary>The serving certificate with its key, for Kestrel.</summary>
    public X509Certificate2 Serving() => X509Certificate2.CreateFromPem(Cert, Key);

    public X509Certificate2 Authority() => X509Certificate2.CreateFromPem(CaCert);

    public DateTimeOffset NotAfter
    {
        get
        {
            using var serving = X509Certificate2.CreateFromPem(Cert);
            return serving.NotAfter.ToUniversalTime();
        }
    }

    public DateTimeOffset NotBefore
    {
        get
        {
            using var serving = X509Certificate2.CreateFromPem(Cert);
            return serving.NotBefore.ToUniversalTime();
        }
    }
}

/// <summary>
/// Certificates for admission webhooks, made in process (ECDSA P-256): a self-signed CA, and
/// a serving certificate for the webhook's Service DNS names and addresses, with subject
/// alternative names only (Go's TLS, as in kube-apiserver, ignores the common name).
/// </summary>
public static class WebhookCertificates
{
    public static WebhookPki Create(IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses, DateTimeOffset now, TimeSpan caLifetime, TimeSpan servingLifetime)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=extip-webhook-ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now + caLifetime);
        return Issue(ca.ExportCertificatePem(), caKey.ExportPkcs8PrivateKeyPem(), dnsNames, addresses, now, servingLifetime);
    }

    /// <summary>A new serving certificate from an existing CA (rotation keeps the caBundle).</summary>
    public static WebhookPki Issue(string caCertPem, string caKeyPem, IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses, DateTimeOffset now, TimeSpan servingLifetime)
    {
        using var ca = X509Certificate2.CreateFromPem(caCertPem, caKeyPem);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=extip-webhook", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames)
        {
            san.AddDnsName(name);
        }

        foreach (var address in addresses)
        {
            san.AddIpAddress(address);
        }

        request.CertificateExtensions.Add(san.Build(true));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var notAfter = now + servingLifetime;
        if (notAfter > ca.NotAfter.ToUniversalTime())
        {
            notAfter = ca.NotAfter.ToUniversalTime();
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var cert = request.Create(ca, now.AddMinutes(-5), notAfter, serial);
        return new WebhookPki(caCertPem, caKeyPem, cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
