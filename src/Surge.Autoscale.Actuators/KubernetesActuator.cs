using k8s;
using k8s.Models;

namespace Surge.Autoscale.Actuators;

/// <summary>Where the Kubernetes actuator acts: the StatefulSet of `surge serve` pods (deploy/kubernetes/surge.yaml).</summary>
public sealed record KubernetesActuatorOptions
{
    public string Namespace { get; init; } = "surge";
    public string StatefulSet { get; init; } = "surge";
}

/// <summary>
/// Scales the StatefulSet of silos through its scale subresource (KubernetesClient). Kubernetes starts pods and
/// stops them with SIGTERM, which drains a silo as on one machine: it refuses new requests, answers those in
/// flight and leaves the cluster; the pod's terminationGracePeriodSeconds must exceed the drain (the manifest
/// gives 60 s). A StatefulSet removes the highest ordinal first — the newest silo, as the local actuator does.
/// </summary>
public sealed class KubernetesActuator(IKubernetes client, KubernetesActuatorOptions options) : ISiloActuator
{
    private int _target = -1;

    /// <summary>From the pod's service account when running in the cluster, else from ~/.kube/config.</summary>
    public static KubernetesActuator FromEnvironment(KubernetesActuatorOptions options) =>
        new(new Kubernetes(KubernetesClientConfiguration.IsInCluster()
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile()), options);

    /// <summary>The replicas last asked for (read from the StatefulSet by <see cref="RefreshAsync"/>).</summary>
    public int Target => _target;

    /// <summary>Reads the StatefulSet's replica count as it is now.</summary>
    public async Task<int> RefreshAsync(CancellationToken cancellationToken = default)
    {
        var scale = await client.AppsV1.ReadNamespacedStatefulSetScaleAsync(options.StatefulSet, options.Namespace, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return _target = scale.Spec?.Replicas ?? 0;
    }

    public async Task ScaleAsync(int silos, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(silos);
        var patch = new V1Patch(new { spec = new { replicas = silos } }, V1Patch.PatchType.MergePatch);
        var scale = await client.AppsV1.PatchNamespacedStatefulSetScaleAsync(patch, options.StatefulSet, options.Namespace, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        _target = scale.Spec?.Replicas ?? silos;
    }

    public ValueTask DisposeAsync()
    {
        client.Dispose();
        return ValueTask.CompletedTask;
    }
}
