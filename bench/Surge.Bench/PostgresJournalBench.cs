using System.Diagnostics;
using HdrHistogram;
using Npgsql;
using Surge.Journal;
using Surge.Journal.Postgres;
using Surge.Testing;

namespace Surge.Bench;

public sealed record PostgresJournalBenchResult(
    int Appenders, int BurstRecords, int RecordBytes, double Seconds,
    double PostgresRecordsPerS, double PostgresBurstP50Ms, double PostgresBurstP99Ms,
    double LocalRecordsPerS, double LocalBurstP50Ms, double LocalBurstP99Ms,
    double PostgresVsLocal, IReadOnlyDictionary<string, string> PostgresSettings);

/// <summary>
/// `surge bench journal-postgres`: durable records per second of the PostgreSQL journal (cluster mode) against
/// the local segment journal in the same run, with the same appenders: each appends a burst of records (a
/// partition's micro-batch) and waits for the last one to be durable.
/// </summary>
internal static class PostgresJournalBench
{
    public const int RecordBytes = 128;

    public static async Task<PostgresJournalBenchResult> RunAsync(double seconds, int appenders, int burst, Action<string, double> progress)
    {
        progress("starting PostgreSQL", 0);
        await using var server = await LocalPostgres.StartAsync([("shared_buffers", "1GB"), ("max_wal_size", "8GB"), ("wal_level", "minimal"), ("max_wal_senders", "0")]);
        await using var source = NpgsqlDataSource.Create(server.ConnectionString);
        await PostgresJournal.EnsureSchemaAsync(source);
        PostgresJournalBenchResult result;
        (double PerS, LongHistogram Latency) postgres, local;
        await using (var journal = PostgresJournal.Open(source, 1, "bench"))
        {
            postgres = await LoadAsync(journal, seconds, appenders, burst, p => progress("PostgreSQL journal", p));
        }
        var directory = Directory.CreateTempSubdirectory("surge-bench-journal-").FullName;
        try
        {
            await using var journal = SegmentJournal.Open(new DirectoryStorage(directory));
            local = await LoadAsync(journal, seconds, appenders, burst, p => progress("local segment journal", p));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
        double Ms(LongHistogram h, double p) => h.GetValueAtPercentile(p) / (double)TimeSpan.TicksPerMillisecond;
        result = new PostgresJournalBenchResult(appenders, burst, RecordBytes, seconds,
            postgres.PerS, Ms(postgres.Latency, 50), Ms(postgres.Latency, 99), local.PerS, Ms(local.Latency, 50), Ms(local.Latency, 99),
            postgres.PerS / local.PerS, LocalPostgres.BaseSettings.ToDictionary(s => s.Name, s => s.Value));
        return result;
    }

    /// <summary>Appenders loop for <paramref name="seconds"/> after one second of warm-up; latency per burst.</summary>
    private static async Task<(double PerS, LongHistogram Latency)> LoadAsync(IJournal journal, double seconds, int appenders, int burst, Action<double> progress)
    {
        var payload = new byte[RecordBytes];
        var merged = new LongHistogram(TimeSpan.TicksPerMinute, 3);
        long records = 0;
        var clock = Stopwatch.StartNew();
        var warmup = TimeSpan.FromSeconds(1);
        var end = warmup + TimeSpan.FromSeconds(seconds);
        var tasks = Enumerable.Range(0, appenders).Select(_ => Task.Run(async () =>
        {
            var local = new LongHistogram(TimeSpan.TicksPerMinute, 3);
            long count = 0;
            while (clock.Elapsed < end)
            {
                var started = clock.Elapsed;
                AppendTicket last = default;
                for (var r = 0; r < burst; r++)
                {
                    last = journal.Append(payload);
                }
                await last.Durable;
                if (started > warmup)
                {
                    local.RecordValue(Math.Max(1, (clock.Elapsed - started).Ticks));
                    count += burst;
                }
            }
            lock (merged)
            {
                merged.Add(local);
                records += count;
            }
        })).ToArray();
        while (!Task.WhenAll(tasks).IsCompleted)
        {
            progress(Math.Min(1, clock.Elapsed / end));
            await Task.WhenAny(Task.WhenAll(tasks), Task.Delay(250)); // progress refresh
        }
        await Task.WhenAll(tasks);
        return (records / seconds, merged);
    }
}
