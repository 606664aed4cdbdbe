using Surge.Server;

namespace Surge.Cli;

/// <summary>The probes of what a silo needs outside itself — the PostgreSQL of its journals and the Redis of its cluster's
/// membership — for <c>/readyz</c>. The Redis connection is opened at the first probe and kept.</summary>
internal sealed class ClusterDependencies(Npgsql.NpgsqlDataSource? postgres, string? redis) : IAsyncDisposable
{
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private StackExchange.Redis.ConnectionMultiplexer? _redis;

    public IReadOnlyList<DependencyCheck> Checks =>
    [
        .. postgres is null ? [] : new[] { new DependencyCheck("postgresql", ProbePostgresAsync) },
        .. redis is null ? [] : new[] { new DependencyCheck("redis", ProbeRedisAsync) },
    ];

    private async Task ProbePostgresAsync(CancellationToken token)
    {
        await using var command = postgres!.CreateCommand("SELECT 1");
        await command.ExecuteScalarAsync(token);
    }

    private async Task ProbeRedisAsync(CancellationToken token)
    {
        var connection = _redis;
        if (connection is null)
        {
            await _connecting.WaitAsync(token);
            try
            {
                if (_redis is null)
                {
                    var configuration = StackExchange.Redis.ConfigurationOptions.Parse(redis!);
                    configuration.AbortOnConnectFail = false; // keeps reconnecting; a probe answers from its state
                    configuration.ConnectTimeout = (int)Readiness.ProbeTimeout.TotalMilliseconds;
                    _redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(configuration);
                }
                connection = _redis;
            }
            finally
            {
                _connecting.Release();
            }
        }
        await connection.GetDatabase().PingAsync().WaitAsync(token);
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        _connecting.Dispose();
    }
}
