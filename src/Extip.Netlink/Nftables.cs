using System.Runtime.InteropServices;

namespace Extip.Netlink;

/// <summary>
/// nftables rule sets applied through libnftables (Debian's <c>libnftables1</c>), the library the
/// <c>nft</c> command is built on, called in the process: no program to start (about 20 ms a
/// change with <c>nft -f -</c>), and only the library and its dependencies in the image.
/// The library's netlink socket belongs to the namespace of the thread that opens it, so every
/// call opens its own context on a thread inside the namespace.
/// </summary>
public static partial class Nftables
{
    private const string Library = "libnftables.so.1";
    private static readonly Lock Gate = new();
    private static bool? _loaded;
    private static string? _loadError;

    /// <summary>
    /// Runs <paramref name="script"/> (nft's language, as <c>nft -f</c> reads it) in the namespace
    /// (null: this one) as one transaction; returns why it failed, or null.
    /// <paramref name="available"/> says whether libnftables could be loaded at all.
    /// </summary>
    public static string? Run(string? netns, string script, out bool available)
    {
        ArgumentNullException.ThrowIfNull(script);
        lock (Gate)
        {
            if (_loaded is null)
            {
                _loaded = NativeLibrary.TryLoad(Library, typeof(Nftables).Assembly, null, out _);
                _loadError = _loaded.Value ? null : $"{Library} (Debian's libnftables1) could not be loaded";
            }

            available = _loaded.Value;
            if (!available)
            {
                return _loadError;
            }

            // The library keeps some state of its own between contexts: one call at a time.
            return NetNs.Run(netns, () => RunHere(script));
        }
    }

    private static string? RunHere(string script)
    {
        var ctx = NftCtxNew(0);
        if (ctx == IntPtr.Zero)
        {
            return "nft_ctx_new failed";
        }

        try
        {
            NftCtxBufferOutput(ctx);
            NftCtxBufferError(ctx);
            if (NftRunCmdFromBuffer(ctx, script) == 0)
            {
                return null;
            }

            var error = Marshal.PtrToStringUTF8(NftCtxGetErrorBuffer(ctx))?.Trim();
            return $"nftables refused the rules: {(string.IsNullOrEmpty(error) ? "no reason given" : error)}";
        }
        finally
        {
            NftCtxFree(ctx);
        }
    }

    [LibraryImport(Library, EntryPoint = "nft_ctx_new")]
    private static partial IntPtr NftCtxNew(uint flags);

    [LibraryImport(Library, EntryPoint = "nft_ctx_free")]
    private static partial void NftCtxFree(IntPtr ctx);

    [LibraryImport(Library, EntryPoint = "nft_ctx_buffer_output")]
    private static partial int NftCtxBufferOutput(IntPtr ctx);

    [LibraryImport(Library, EntryPoint = "nft_ctx_buffer_error")]
    private static partial int NftCtxBufferError(IntPtr ctx);

    [LibraryImport(Library, EntryPoint = "nft_ctx_get_error_buffer")]
    private static partial IntPtr NftCtxGetErrorBuffer(IntPtr ctx);

    [LibraryImport(Library, EntryPoint = "nft_run_cmd_from_buffer", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int NftRunCmdFromBuffer(IntPtr ctx, string buffer);
}
