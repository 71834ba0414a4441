using k8s.Models;

namespace Extip.Kubernetes.Events;

/// <summary>Where a component reports what users should see on an object (<see cref="EventRecorder"/> writes them as core/v1 Events); never blocks.</summary>
public interface IEventSink
{
    void Normal(V1ObjectReference target, string reason, string message);

    void Warning(V1ObjectReference target, string reason, string message);
}
