using System.CommandLine;
using Extip.Kubernetes.Runtime;
using System.Net;
using Extip.Controller;
using Extip.Core.Allocation;
using Extip.Core.Pools;

namespace Extip.Cli.Commands;

/// <summary><c>extip controller</c>: allocation and claims, leader-elected.</summary>
internal static class ControllerCommand
{
    public static Command Build()
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "kubeconfig file; in-cluster config when omitted inside a Pod." };
        var mask = new Option<int>("--mask") { Description = "Mask put on the interface with IPv4 addresses when the pool sets none (the seed's extip_mask).", DefaultValueFactory = _ => 32 };
        var maskV6 = new Option<int>("--mask-v6") { Description = "Mask put on the interface with IPv6 addresses when the pool sets none.", DefaultValueFactory = _ => 128 };
        var iface = new Option<string>("--iface") { Description = "Interface the addresses go on when the pool sets none (the seed's extip_iface).", DefaultValueFactory = _ => "lo" };
        var distribution = new Option<string>("--distribution") { Description = "all: every eligible node holds each address (ECMP); balance: spread them (the seed's extip_distribution).", DefaultValueFactory = _ => "all" };
        distribution.AcceptOnlyFromAmong("all", "balance", "All", "Balance");
        var mode = new Option<string>("--mode") { Description = "Announcement when the pool sets none: Local, L2 or BGP.", DefaultValueFactory = _ => "Local" };
        mode.AcceptOnlyFromAmong("Local", "L2", "BGP");
        var externalIps = new Option<string>("--external-ips") { Description = "Who may use spec.externalIPs: pools (only pools that allow them), any, deny.", DefaultValueFactory = _ => "pools" };
        externalIps.AcceptOnlyFromAmong("pools", "any", "deny");
        var conflicting = new Option<string>("--conflicting-external-ips")
        {
            Description = "An address in spec.externalIPs that another Service holds: remove it from the spec (kube-proxy would program it anyway, CVE-2020-8554), or keep it (refusal Event only).",
            DefaultValueFactory = _ => "remove",
        };
        conflicting.AcceptOnlyFromAmong("remove", "keep");
        var lbClass = new Option<string>("--lb-class") { Description = "loadBalancerClass handled besides Services without one.", DefaultValueFactory = _ => Kubernetes.Models.ExtipApi.DefaultLoadBalancerClass };
        var ns = new Option<string>("--namespace") { Description = "Namespace of the leader-election and agent Leases.", DefaultValueFactory = _ => Extip.Kubernetes.Models.ExtipApi.DefaultNamespace };
        var metrics = new Option<string?>("--metrics") { Description = "host:port for /metrics, /healthz and /readyz." };
        var id = new Option<string?>("--id") { Description = "Identity in the leader election (default: host-pid)." };
        var noElect = new Option<bool>("--no-leader-elect") { Description = "Lead without an election (a single controller)." };
        var installCrds = new Option<bool>("--install-crds") { Description = "Create or update the extip CRDs at start." };
        var fenceMargin = new Option<double>("--fence-margin") { Description = "Seconds an agent still counts live past its Lease: covers the kernel's removal of a hung agent's addresses (whole-second lifetimes).", DefaultValueFactory = _ => 0.75 };
        var holdDown = new Option<double>("--hold-down") { Description = "Seconds a node that comes back waits before it gets new claims; doubles each time it flaps (comes back within a minute of its last return), up to 60 s. 0: off.", DefaultValueFactory = _ => 3 };
        var notReady = new Option<double>("--not-ready-grace") { Description = "Seconds a node's Ready condition may be False or Unknown (timed from when the controller first sees it) before the node holds no claim. 0: Ready is not looked at.", DefaultValueFactory = _ => 60 };
        var webhook = new Option<string?>("--webhook")
        {
            Description = "Serve the validating admission webhook on ADDRESS:PORT (:9443 for every address); it writes its certificate Secret and the ValidatingWebhookConfiguration 'extip'.",
        };
        var webhookUrl = new Option<string?>("--webhook-url") { Description = "Base URL the API server reaches the webhook at (outside a cluster); default: the Service --webhook-service, or the loopback address it listens on." };
        var webhookService = new Option<string>("--webhook-service") { Description = "NAME[:PORT] of the Service in front of the webhook, in --namespace.", DefaultValueFactory = _ => "extip-webhook:443" };
        var webhookServices = new Option<string>("--webhook-services-policy")
        {
            Description = "failurePolicy of the Services webhook: Ignore (a down controller never blocks a Service write) or Fail (no external-IP hijack gets past the door, but Service writes fail while no controller answers).",
            DefaultValueFactory = _ => "Ignore",
        };
        webhookServices.AcceptOnlyFromAmong("Ignore", "Fail");
        var cmd = new Command("controller", "Allocates addresses to Services and assigns them to nodes (IPClaims).")
        {
            kubeconfig, mask, maskV6, iface, distribution, mode, externalIps, conflicting, lbClass, ns, metrics, id, noElect, installCrds, fenceMargin, holdDown, notReady,
            webhook, webhookUrl, webhookService, webhookServices,
        };
        cmd.SetAction(async (r, ct) =>
        {
            if (r.GetValue(fenceMargin) is var margin && (!double.IsFinite(margin) || margin < 0 || margin > 60))
            {
                Console.Error.WriteLine($"extip controller: --fence-margin {margin}: expected 0 to 60 seconds");
                return 2;
            }

            if (r.GetValue(holdDown) is var hold && (!double.IsFinite(hold) || hold < 0 || hold > 60))
            {
                Console.Error.WriteLine($"extip controller: --hold-down {hold}: expected 0 to 60 seconds");
                return 2;
            }

            if (r.GetValue(notReady) is var grace && (!double.IsFinite(grace) || grace < 0 || grace > 86400))
            {
                Console.Error.WriteLine($"extip controller: --not-ready-grace {grace}: expected 0 to 86400 seconds");
                return 2;
            }

            Controller.Webhook.WebhookOptions? webhookOptions = null;
            if (r.GetValue(webhook) is { } listenText)
            {
                IPEndPoint listenEndpoint;
                try
                {
                    listenEndpoint = Extip.Core.Addresses.ListenAddress.Parse(listenText, "--webhook");
                }
                catch (ArgumentException e)
                {
                    Console.Error.WriteLine($"extip controller: {e.Message}");
                    return 2;
                }

                Uri? baseUrl = null;
                if (r.GetValue(webhookUrl) is { } urlText && (!Uri.TryCreate(urlText, UriKind.Absolute, out baseUrl) || baseUrl.Scheme != "https"))
                {
                    Console.Error.WriteLine($"extip controller: --webhook-url {urlText}: expected an https:// URL");
                    return 2;
                }

                var serviceText = r.GetValue(webhookService)!;
                var colon = serviceText.LastIndexOf(':');
                var servicePort = 443;
                if (colon >= 0 && !int.TryParse(serviceText[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture, out servicePort))
                {
                    Console.Error.WriteLine($"extip controller: --webhook-service {serviceText}: expected NAME[:PORT]");
                    return 2;
                }

                webhookOptions = new Controller.Webhook.WebhookOptions
                {
                    Listen = listenEndpoint,
                    Url = baseUrl is null ? null : new Uri(baseUrl.ToString().TrimEnd('/') + "/"),
                    ServiceName = colon >= 0 ? serviceText[..colon] : serviceText,
                    ServicePort = servicePort,
                    ServicesFail = r.GetValue(webhookServices) == "Fail",
                };
            }

            if (r.GetValue(mask) is var m4 && m4 is < 1 or > 32)
            {
                Console.Error.WriteLine($"extip controller: --mask {m4}: expected 1 to 32");
                return 2;
            }

            if (r.GetValue(maskV6) is var m6 && m6 is < 1 or > 128)
            {
                Console.Error.WriteLine($"extip controller: --mask-v6 {m6}: expected 1 to 128");
                return 2;
            }

            using var logs = ClusterConnection.Logs("controller");
            var options = new ControllerOptions
            {
                Mask = r.GetValue(mask),
                MaskV6 = r.GetValue(maskV6),
                Interface = r.GetValue(iface)!,
                Distribution = Enum.Parse<Distribution>(r.GetValue(distribution)!, ignoreCase: true),
                Mode = Enum.Parse<AnnounceMode>(r.GetValue(mode)!),
                ExternalIPs = Enum.Parse<ExternalIpPolicy>(r.GetValue(externalIps)!, ignoreCase: true),
                RemoveConflictingExternalIPs = r.GetValue(conflicting) == "remove",
                LoadBalancerClass = r.GetValue(lbClass)!,
                Namespace = r.GetValue(ns)!,
                Metrics = r.GetValue(metrics),
                LeaderElection = !r.GetValue(noElect),
                Identity = r.GetValue(id) ?? $"{Environment.MachineName}-{Environment.ProcessId}",
                InstallCrds = r.GetValue(installCrds),
                FenceMargin = TimeSpan.FromSeconds(r.GetValue(fenceMargin)),
                HoldDown = new HoldDownOptions { Base = TimeSpan.FromSeconds(hold) },
                NotReadyGrace = TimeSpan.FromSeconds(grace),
                Webhook = webhookOptions,
            };
            await using var controller = new ExtipController(ClusterConnection.Connect(r.GetValue(kubeconfig)), options, logs);
            await controller.StartAsync(ct);
            if (controller.MetricsUrl is { } url)
            {
                Console.WriteLine($"extip controller: metrics and health on {url}");
            }

            using var trim = new IdleTrim(TimeProvider.System, logs.CreateLogger("extip.memory"));
            await Termination.WaitAsync(ct);

            return 0;
        });
        return cmd;
    }
}
