using System.Net;
using k8s;
using k8s.Models;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>apps/v1 and scheduling.k8s.io/v1, as extip's manifests and a lab user use them: defaults and checks as kube-apiserver's.</summary>
public abstract partial class ConformanceTests<TFixture>
{
    private static V1Deployment Deployment(string name, string selectorApp = "web", string templateApp = "web") => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1DeploymentSpec
        {
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = selectorApp } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = templateApp } },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "web", Image = "registry.example/web:1.0", Ports = [new V1ContainerPort { ContainerPort = 80 }] }] },
            },
        },
    };

    [Fact]
    public async Task Deployment_Created_HasTheServersDefaults_AndCountsGenerations()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var d = await Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web"), ns);
        Assert.Equal(1, d.Spec.Replicas);
        Assert.Equal("RollingUpdate", d.Spec.Strategy.Type);
        Assert.Equal("25%", d.Spec.Strategy.RollingUpdate.MaxSurge.Value);
        Assert.Equal("25%", d.Spec.Strategy.RollingUpdate.MaxUnavailable.Value);
        Assert.Equal(10, d.Spec.RevisionHistoryLimit);
        Assert.Equal(600, d.Spec.ProgressDeadlineSeconds);
        var pod = d.Spec.Template.Spec;
        Assert.Equal(("Always", "ClusterFirst", "default-scheduler", 30L), (pod.RestartPolicy, pod.DnsPolicy, pod.SchedulerName, pod.TerminationGracePeriodSeconds));
        Assert.Equal(("/dev/termination-log", "File", "IfNotPresent", "TCP"),
            (pod.Containers[0].TerminationMessagePath, pod.Containers[0].TerminationMessagePolicy, pod.Containers[0].ImagePullPolicy, pod.Containers[0].Ports[0].Protocol));
        Assert.Equal(1, d.Metadata.Generation);

        d.Spec.Replicas = 3;
        var updated = await Client.AppsV1.ReplaceNamespacedDeploymentAsync(d, "web", ns);
        Assert.Equal(2, updated.Metadata.Generation);
        Assert.Equal(3, updated.Spec.Replicas);
    }

    [Fact]
    public async Task Deployment_SelectorNotMatchingTheTemplate_OrChanged_IsRefused()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("bad", "web", "api"), ns));
        Assert.Contains(status["details"]!["causes"]!.AsArray(), c => c!["field"]!.GetValue<string>() == "spec.template.metadata.labels"
            && c["message"]!.GetValue<string>().Contains("`selector` does not match template `labels`", StringComparison.Ordinal));

        var d = await Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web"), ns);
        d.Spec.Selector.MatchLabels["tier"] = "front";
        d.Spec.Template.Metadata.Labels["tier"] = "front";
        status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.AppsV1.ReplaceNamespacedDeploymentAsync(d, "web", ns));
        Assert.Contains(status["details"]!["causes"]!.AsArray(), c => c!["field"]!.GetValue<string>() == "spec.selector"
            && c["message"]!.GetValue<string>().Contains("field is immutable", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DaemonSet_Created_HasTheServersDefaults()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var template = Deployment("agent", "agent", "agent").Spec;
        var ds = await Client.AppsV1.CreateNamespacedDaemonSetAsync(new V1DaemonSet
        {
            Metadata = new V1ObjectMeta { Name = "agent" },
            Spec = new V1DaemonSetSpec { Selector = template.Selector, Template = template.Template },
        }, ns);
        Assert.Equal("RollingUpdate", ds.Spec.UpdateStrategy.Type);
        Assert.Equal("1", ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.Value);
        Assert.Equal(10, ds.Spec.RevisionHistoryLimit);
        Assert.Equal(1, ds.Metadata.Generation);
    }

    [Fact]
    public async Task PriorityClass_NeedsAValue_AndSystemNamesAreReserved()
    {
        var name = $"pc-{Guid.NewGuid():N}"[..12];
        var pc = await Client.SchedulingV1.CreatePriorityClassAsync(new V1PriorityClass { Metadata = new V1ObjectMeta { Name = name }, Value = 1000 });
        Assert.Equal("PreemptLowerPriority", pc.PreemptionPolicy);
        var status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.SchedulingV1.CreatePriorityClassAsync(new V1PriorityClass { Metadata = new V1ObjectMeta { Name = "system-mine" }, Value = 1 }));
        Assert.Contains(status["details"]!["causes"]!.AsArray(), c => c!["field"]!.GetValue<string>() == "metadata.name");
        await Client.SchedulingV1.DeletePriorityClassAsync(name);
    }
}
