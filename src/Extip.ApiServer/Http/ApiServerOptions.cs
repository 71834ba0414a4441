namespace Extip.ApiServer.Http;

public sealed record ApiServerOptions
{
    /// <summary>host:port to listen on; port 0 picks a free port.</summary>
    public string Listen { get; init; } = "127.0.0.1:0";

    /// <summary>Events kept per resource for watches that start from an older resourceVersion.</summary>
    public int WatchHistory { get; init; } = 5000;

    /// <summary>And at most this many bytes of them per resource: the oldest go first, so memory returns after big objects are deleted.</summary>
    public long WatchHistoryBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Watches open at once; more get 429 Too Many Requests with Retry-After.</summary>
    public int MaxWatches { get; init; } = 1000;

    /// <summary>Largest request body (kube-apiserver's MaxRequestBodyBytes: 3 MiB); larger gets 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 3 * 1024 * 1024;

    /// <summary>Largest stored object (etcd's default request limit, 1.5 MiB); larger gets 413.</summary>
    public int MaxObjectBytes { get; init; } = 1536 * 1024;

    /// <summary>How often a watch with allowWatchBookmarks gets a BOOKMARK (the real server: about a minute).</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Watch duration when the client does not set timeoutSeconds (the real server: 30-60 min).</summary>
    public TimeSpan DefaultWatchTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Within this long of a watch's last write, the next events wait out the rest of it and go
    /// in one write: a burst costs a few writes, not one per event; a lone event goes at once.
    /// </summary>
    public TimeSpan WatchCoalesce { get; init; } = TimeSpan.FromMilliseconds(2);

    public string ServiceCidr { get; init; } = "10.96.0.0/16";

    /// <summary>Where objects are kept across restarts; null keeps them in memory only.</summary>
    public string? DataDir { get; init; }

    /// <summary>
    /// The bearer token every request must carry (the kubeconfig it writes has it). Null: a
    /// random one, kept in the data directory when there is one, so a restart keeps it.
    /// </summary>
    public string? Token { get; init; }

    /// <summary>
    /// More bearer tokens, in kube-apiserver's <c>--token-auth-file</c> format
    /// (<c>token,user,uid[,"group1,group2"]</c>): one identity each, for RBAC.
    /// </summary>
    public string? TokenFile { get; init; }

    /// <summary>AlwaysAllow (any authenticated user may do anything), or RBAC (Roles and bindings decide; the server's own token is in system:masters).</summary>
    public AuthorizationMode Authorization { get; init; } = AuthorizationMode.AlwaysAllow;

    /// <summary>Listening on an address other than loopback must be asked for.</summary>
    public bool AllowRemote { get; init; }

    /// <summary>The version /version reports; features follow this version where it differs from v1.20.</summary>
    /// <summary>The server's clock: token expiry (ServiceAccount tokens it issued).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    public string GitVersion { get; init; } = "v1.32.0-extip";
}

/// <summary>How the server decides what an authenticated user may do (kube-apiserver's --authorization-mode).</summary>
public enum AuthorizationMode
{
    AlwaysAllow,
    RBAC,
}
