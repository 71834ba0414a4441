using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Extip.Core.Security;

/// <summary>A CA and a serving certificate it signed, as PEM: what a server (a webhook, the embedded API server) serves with and what its clients trust.</summary>
public sealed record Pki(string CaCert, string CaKey, string Cert, string Key)
{
    /// <summary>The serving certificate with its key, for Kestrel.</summary>
    public X509Certificate2 Serving() => X509Certificate2.CreateFromPem(Cert, Key);

    public X509Certificate2 Authority() => X509Certificate2.CreateFromPem(CaCert);

    /// <summary>Whether the serving certificate names <paramref name="address"/> (a wildcard: loopback).</summary>
    public bool Names(IPAddress address)
    {
        using var serving = X509Certificate2.CreateFromPem(Cert);
        var wanted = address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ? IPAddress.Loopback : address;
        return serving.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateIPAddresses()).Contains(wanted);
    }

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
/// Certificates made in process (ECDSA P-256): a self-signed CA, and a serving certificate for
/// a server's DNS names and addresses, with subject alternative names only (Go's TLS, as in
/// kube-apiserver and kubectl, ignores the common name).
/// </summary>
public static class Certificates
{
    public static Pki Create(IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses, DateTimeOffset now, TimeSpan caLifetime, TimeSpan servingLifetime, string name = "extip-webhook")
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN={name}-ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now + caLifetime);
        return Issue(ca.ExportCertificatePem(), caKey.ExportPkcs8PrivateKeyPem(), dnsNames, addresses, now, servingLifetime, name);
    }

    /// <summary>A new serving certificate from an existing CA (rotation keeps the caBundle).</summary>
    public static Pki Issue(string caCertPem, string caKeyPem, IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses, DateTimeOffset now, TimeSpan servingLifetime, string name = "extip-webhook")
    {
        using var ca = X509Certificate2.CreateFromPem(caCertPem, caKeyPem);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var dns in dnsNames)
        {
            san.AddDnsName(dns);
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
        return new Pki(caCertPem, caKeyPem, cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
