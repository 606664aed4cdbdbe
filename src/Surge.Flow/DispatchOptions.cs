namespace Surge.Flow;

/// <summary>Bounds and timing of carrier delivery, each with its unit.</summary>
public sealed record DispatchOptions
{
    /// <summary>Most shipments in one webhook (a manifest); fewer when fewer are due.</summary>
    public int ManifestShipmentsMax { get; init; } = 100;

    /// <summary>Wait before the second attempt; it doubles with each failure (full jitter: a random half to all of it).</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between two attempts.</summary>
    public TimeSpan RetryDelayMax { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long after planning a shipment is retried; then it goes to the dead-letter state.</summary>
    public TimeSpan RetryHorizon { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Webhooks to one carrier awaiting their answer at the same time.</summary>
    public int ManifestsInFlightMax { get; init; } = 8;

    /// <summary>Longest wait for a carrier's answer to one webhook.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The breaker opens when at least this share of the calls in <see cref="BreakerSamplingDuration"/> failed…</summary>
    public double BreakerFailureRatio { get; init; } = 0.5;

    /// <summary>…and at least this many calls were made in it.</summary>
    public int BreakerMinimumCalls { get; init; } = 5;

    public TimeSpan BreakerSamplingDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an open breaker sends nothing before one trial call.</summary>
    public TimeSpan BreakerBreakDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The wait before attempt <paramref name="attempts"/> + 1: <see cref="FirstRetryDelay"/> doubling per
    /// attempt up to <see cref="RetryDelayMax"/>, with full jitter (a random half to all of it).</summary>
    public TimeSpan Backoff(int attempts)
    {
        var backoff = Math.Min(RetryDelayMax.TotalMilliseconds, FirstRetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(30, attempts - 1)));
        return TimeSpan.FromMilliseconds(backoff * (0.5 + Random.Shared.NextDouble() / 2));
    }

    /// <summary>Throws <see cref="FulfillmentRulesException"/> naming the first bound that is out of range.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string message)
        {
            if (!ok)
            {
                throw new FulfillmentRulesException($"{source}: delivery.{message}");
            }
        }
        Require(ManifestShipmentsMax is > 0 and <= 10_000, "manifest_shipments_max: 1 to 10,000");
        Require(ManifestsInFlightMax is > 0 and <= 256, "manifests_in_flight_max: 1 to 256");
        Require(FirstRetryDelay > TimeSpan.Zero && RetryDelayMax >= FirstRetryDelay, "first_retry_delay must be > 0 and ≤ retry_delay_max");
        Require(RetryHorizon > TimeSpan.Zero && RequestTimeout > TimeSpan.Zero, "retry_horizon and request_timeout must be > 0");
        Require(BreakerFailureRatio is > 0 and <= 1 && BreakerMinimumCalls > 1, "breaker_failure_ratio is in (0, 1], breaker_minimum_calls > 1");
        Require(BreakerSamplingDuration >= TimeSpan.FromMilliseconds(500) && BreakerBreakDuration >= TimeSpan.FromMilliseconds(500),
            "breaker_sampling_duration and breaker_break_duration are at least 00:00:00.5");
    }
}

/// <summary>A carrier's delivery health for the API and the dashboard.</summary>
public sealed record CarrierHealth(string CarrierId, string Breaker, int Queued, long Sent, long Failed, long DeadLetters);
