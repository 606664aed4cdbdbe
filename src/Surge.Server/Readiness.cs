using System.Diagnostics;

namespace Surge.Server;

/// <summary>Something a node needs to serve that lives outside it (the cluster's PostgreSQL, its Redis): a name and a
/// probe that completes when it answers and throws when it does not.</summary>
public sealed record DependencyCheck(string Name, Func<CancellationToken, Task> Probe);

/// <summary>One line of a readiness answer.</summary>
public sealed record ReadinessCheck(string Name, bool Ok, string Detail);

/// <summary>
/// Whether this node should get traffic (<c>/readyz</c>): its partitions recovered, it is not draining, and every
/// dependency answered its probe within <see cref="ProbeTimeout"/>. A dependency's answer is kept for
/// <see cref="ProbeReuse"/>, so probes sent every second by several load balancers cost one round trip per interval.
/// Liveness (<c>/healthz</c>) asks none of this: a node that is recovering, draining or cut off from its database is
/// alive and must not be restarted for it.
/// </summary>
public sealed class Readiness(NodeLifecycle lifecycle, IReadOnlyList<DependencyCheck> dependencies)
{
    /// <summary>Longest a dependency may take to answer its probe before it counts as unreachable.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How long one probe's answer stands for the next readiness questions.</summary>
    public static readonly TimeSpan ProbeReuse = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private Task<ReadinessCheck[]>? _probing;
    private long _probedAt;

    /// <summary>Every check, in a fixed order: recovery, draining, then each dependency.</summary>
    public async Task<IReadOnlyList<ReadinessCheck>> CheckAsync()
    {
        ReadinessCheck[] node =
        [
            new("recovered", lifecycle.Ready, lifecycle.Ready ? "every partition recovered" : "the partitions are still recovering"),
            new("not_draining", !lifecycle.Draining, lifecycle.Draining ? "this node is stopping" : "taking requests"),
        ];
        return [.. node, .. await DependenciesAsync()];
    }

    private Task<ReadinessCheck[]> DependenciesAsync()
    {
        if (dependencies.Count == 0)
        {
            return Task.FromResult<ReadinessCheck[]>([]);
        }
        lock (_gate)
        {
            if (_probing is null || (_probing.IsCompleted && Stopwatch.GetElapsedTime(_probedAt) > ProbeReuse))
            {
                _probedAt = Stopwatch.GetTimestamp();
                _probing = Task.WhenAll(dependencies.Select(ProbeAsync));
            }
            return _probing;
        }
    }

    private static async Task<ReadinessCheck> ProbeAsync(DependencyCheck dependency)
    {
        using var timeout = new CancellationTokenSource(ProbeTimeout);
        try
        {
            await dependency.Probe(timeout.Token).WaitAsync(timeout.Token);
            return new ReadinessCheck(dependency.Name, true, "answers");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return new ReadinessCheck(dependency.Name, false, $"no answer within {ProbeTimeout.TotalSeconds:0.#} s");
        }
        catch (Exception e)
        {
            return new ReadinessCheck(dependency.Name, false, e.Message.Split('\n', 2)[0].Trim());
        }
    }
}
