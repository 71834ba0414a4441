using System.CommandLine;
using Extip.ApiServer;
using Extip.ApiServer.Http;

namespace Extip.Cli.Commands;

/// <summary><c>extip apiserver</c>: the embedded API server, for the lab and for trying extip with kubectl.</summary>
internal static class ApiServerCommand
{
    public static Command Build()
    {
        var listen = new Option<string>("--listen") { Description = "host:port to listen on (port 0 picks a free one).", DefaultValueFactory = _ => "127.0.0.1:0" };
        var kubeconfig = new Option<string?>("--kubeconfig-out") { Description = "Write a kubeconfig for kubectl and clients to this file." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Keep objects in this directory across restarts." };
        var bookmark = new Option<int>("--bookmark-seconds") { Description = "Interval of watch bookmarks.", DefaultValueFactory = _ => 60 };
        var allowRemote = new Option<bool>("--allow-remote") { Description = "Allow --listen on an address other than loopback (the server holds Secrets; every request needs the kubeconfig's token)." };
        var authorization = new Option<AuthorizationMode>("--authorization") { Description = "AlwaysAllow (every authenticated user may do anything) or RBAC (Roles and bindings decide, as kube-apiserver's --authorization-mode=RBAC; the kubeconfig's own token is in system:masters).", DefaultValueFactory = _ => AuthorizationMode.AlwaysAllow };
        var tokenFile = new Option<string?>("--token-file") { Description = "More identities, in kube-apiserver's --token-auth-file format: token,user,uid[,\"group1,group2\"] per line." };
        var cmd = new Command("apiserver", "Runs the embedded Kubernetes API server used by the lab and the tests.") { listen, kubeconfig, dataDir, bookmark, allowRemote, authorization, tokenFile };
        cmd.SetAction(async (r, ct) =>
        {
            var options = new ApiServerOptions
            {
                Listen = r.GetValue(listen)!,
                DataDir = r.GetValue(dataDir),
                BookmarkInterval = TimeSpan.FromSeconds(r.GetValue(bookmark)),
                AllowRemote = r.GetValue(allowRemote),
                Authorization = r.GetValue(authorization),
                TokenFile = r.GetValue(tokenFile) is { } f ? Path.GetFullPath(f) : null,
            };
            await using var server = new EmbeddedApiServer(options);
            try
            {
                await server.StartAsync(ct);
            }
            catch (Exception e) when (e is ArgumentException or IOException or FormatException)
            {
                Console.Error.WriteLine($"extip apiserver: {e.Message}");
                return 2;
            }

            Console.WriteLine($"extip apiserver listening on {server.Bound.ToString().TrimEnd('/')} (bearer token required; the kubeconfig has it; authorization {options.Authorization})");
            if (r.GetValue(kubeconfig) is { } path)
            {
                server.WriteKubeconfig(Path.GetFullPath(path));
                Console.WriteLine($"kubeconfig written to {Path.GetFullPath(path)} (export KUBECONFIG={Path.GetFullPath(path)})");
            }

            await Termination.WaitAsync(ct);

            Console.WriteLine("extip apiserver stopped");
            return 0;
        });
        return cmd;
    }
}
