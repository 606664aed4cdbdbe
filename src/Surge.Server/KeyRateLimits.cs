using System.Threading.RateLimiting;

namespace Surge.Server;

/// <summary>Requests per second each API key may send, by the kind of key (0 = no limit); the admin key is the
/// operator's own and has none. Beyond it: 429 `rate_limited` with Retry-After. A batch request counts once.</summary>
public sealed record RateLimitOptions
{
    /// <summary>Requests a second one storefront key may send (a shop front placing orders for all its buyers).</summary>
    public int StorefrontRequestsPerSecond { get; init; } = 50_000;

    /// <summary>Requests a second one seller key may send (catalog, stock, listings of one seller).</summary>
    public int SellerRequestsPerSecond { get; init; } = 2_000;

    /// <summary>Requests a key may send at once after a quiet moment: this many seconds' worth of its rate.</summary>
    public double BurstSeconds { get; init; } = 2;

    /// <summary>Dashboard login attempts one client address may make per minute (wrong keys included).</summary>
    public int LoginAttemptsPerMinute { get; init; } = 10;
}

/// <summary>
/// The per-key limits of <see cref="RateLimitOptions"/>: one token bucket per key (System.Threading.RateLimiting), taken
/// after the key is authenticated, so only real keys get a bucket and one busy key cannot take a node's capacity from
/// the others. And the dashboard's login throttle, one bucket per client address.
/// </summary>
public sealed class KeyRateLimits : IDisposable
{
    /// <summary>How often buckets are refilled (a tenth of a second's worth each time).</summary>
    private static readonly TimeSpan Replenishment = TimeSpan.FromMilliseconds(100);

    private readonly PartitionedRateLimiter<(Role Role, string Key)> _keys;
    private readonly PartitionedRateLimiter<string> _logins;

    public KeyRateLimits(RateLimitOptions options)
    {
        Options = options;
        _keys = PartitionedRateLimiter.Create<(Role Role, string Key), string>(caller =>
        {
            var perSecond = caller.Role switch
            {
                Role.Storefront => options.StorefrontRequestsPerSecond,
                Role.Seller => options.SellerRequestsPerSecond,
                _ => 0,
            };
            return perSecond <= 0 ? RateLimitPartition.GetNoLimiter(caller.Key) : RateLimitPartition.GetTokenBucketLimiter(caller.Key, _ => Bucket(perSecond, options.BurstSeconds));
        });
        _logins = PartitionedRateLimiter.Create<string, string>(address => options.LoginAttemptsPerMinute <= 0
            ? RateLimitPartition.GetNoLimiter(address)
            : RateLimitPartition.GetTokenBucketLimiter(address, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = options.LoginAttemptsPerMinute,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = TimeSpan.FromMinutes(1) / options.LoginAttemptsPerMinute,
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    public RateLimitOptions Options { get; }

    private static TokenBucketRateLimiterOptions Bucket(int perSecond, double burstSeconds)
    {
        var perPeriod = Math.Max(1, (int)Math.Ceiling(perSecond * Replenishment.TotalSeconds));
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(perPeriod, (int)Math.Min(int.MaxValue, perSecond * burstSeconds)),
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = TimeSpan.FromSeconds(perPeriod / (double)perSecond),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }

    /// <summary>Null when the key may send this request now; otherwise how long it should wait.</summary>
    public TimeSpan? KeyRefusal(Role role, string key) =>
        role == Role.Admin ? null : Refusal(_keys.AttemptAcquire((role, key))); // the admin key has no limit: no lookup on its hot path

    /// <summary>Null when the address may try to log in now; otherwise how long it should wait.</summary>
    public TimeSpan? LoginRefusal(string address) => Refusal(_logins.AttemptAcquire(address));

    private static TimeSpan? Refusal(RateLimitLease lease)
    {
        using (lease)
        {
            return lease.IsAcquired ? null
                : lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) && wait > TimeSpan.Zero ? wait : TimeSpan.FromSeconds(1);
        }
    }

    public void Dispose()
    {
        _keys.Dispose();
        _logins.Dispose();
    }
}
