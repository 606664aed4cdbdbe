namespace Surge.Autoscale.Actuators;

/// <summary>
/// Carries out the controller's decisions: makes the cluster have a number of silos. Scale-out starts silos (they
/// join the cluster on their own); scale-in drains one gracefully — it stops taking requests, answers those in
/// flight, and leaves the cluster so that its partitions re-activate elsewhere without a failed order.
/// </summary>
public interface ISiloActuator : IAsyncDisposable
{
    /// <summary>Silos asked for (starting, serving, not draining).</summary>
    int Target { get; }

    /// <summary>Asks for <paramref name="silos"/> silos; returns once the change is under way (a new silo serves
    /// some seconds later; a drained one leaves some seconds later).</summary>
    Task ScaleAsync(int silos, CancellationToken cancellationToken = default);
}
