using System.Text.Json;

namespace Extip.Cli.Lab;

/// <summary>One node of a running lab.</summary>
internal sealed record LabNode(string Name, string Netns, string V4, string V6)
{
    /// <summary>Whether an agent runs there, and how: running, frozen, stopped, killed, none.</summary>
    public string Agent { get; init; } = "none";

    public int? AgentPid { get; init; }
}

/// <summary>The running lab as its supervisor last wrote it (<see cref="LabHome.StateFile"/>).</summary>
internal sealed record LabState
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>The supervisor's pid: the lab is up while it lives.</summary>
    public int Pid { get; init; }

    /// <summary>The name prefix of the lab's namespaces (and of its processes' mark).</summary>
    public string Prefix { get; init; } = string.Empty;

    public LabSpec Spec { get; init; } = new();

    public string Kubeconfig { get; init; } = string.Empty;

    public string Router { get; init; } = string.Empty;

    public string Client { get; init; } = string.Empty;

    public IReadOnlyList<LabNode> Nodes { get; init; } = [];

    public int? ControllerPid { get; init; }

    public string? ApiServerUrl { get; init; }

    /// <summary>running, frozen or killed (<c>extip lab fail apiserver</c>).</summary>
    public string ApiServer { get; init; } = "running";

    public LabNode Node(string name) =>
        Nodes.FirstOrDefault(n => n.Name == name) ?? throw new ArgumentException($"no node \"{name}\" in the lab (nodes: {string.Join(", ", Nodes.Select(n => n.Name))})");

    /// <summary>The node whose rack address this is.</summary>
    public string? NodeOf(System.Net.IPAddress address) =>
        Nodes.FirstOrDefault(n => n.V4 == address.ToString() || n.V6 == address.ToString())?.Name;
}
