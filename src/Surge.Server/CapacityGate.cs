namespace Surge.Server;

/// <summary>
/// A node's capacity cap in orders per second (<see cref="ServerOptions.CapacityOrdersPerSecond"/>): a token bucket
/// refilled at that rate and holding at most <see cref="ServerOptions.CapacityBurst"/>'s worth. Orders beyond it are
/// answered 503 `silo_capacity` at once — the node behaves like a machine of that size, so one machine can run a
/// cluster of small ones honestly (every silo's limit is its own, not what the shared cores happen to give).
/// </summary>
public sealed class CapacityGate
{
    private readonly Lock _gate = new();
    private readonly double _perSecond;
    private readonly double _burst;
    private readonly TimeProvider _clock;
    private double _tokens;
    private long _refilledAt;

    public CapacityGate(int ordersPerSecond, TimeSpan burst, TimeProvider clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ordersPerSecond, 1);
        _perSecond = ordersPerSecond;
        _burst = Math.Max(1, ordersPerSecond * burst.TotalSeconds);
        _clock = clock;
        _tokens = _burst;
        _refilledAt = clock.GetTimestamp();
    }

    public int OrdersPerSecond => (int)_perSecond;

    /// <summary>Takes up to <paramref name="wanted"/> orders' worth; returns how many may go (the first ones).</summary>
    public int Take(int wanted)
    {
        lock (_gate)
        {
            var now = _clock.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + _clock.GetElapsedTime(_refilledAt, now).TotalSeconds * _perSecond);
            _refilledAt = now;
            var granted = (int)Math.Min(wanted, Math.Floor(_tokens));
            _tokens -= granted;
            return granted;
        }
    }

    public AdmissionException Refusal() =>
        new(Application.Refusal.Unavailable, "silo_capacity", $"this silo takes at most {OrdersPerSecond} orders per second; retry (another silo may have room)");
}
