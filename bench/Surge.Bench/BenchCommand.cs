using System.CommandLine;
using Spectre.Console;
using Surge.Benchmarks;

namespace Surge.Bench;

internal static class BenchCommand
{
    /// <summary>Every harness, as a verb of <c>./surge bench</c>.</summary>
    public static Command[] Harnesses() =>
    [
        Engine(), JournalBench(), Recovery(), Forecast(), Http(), Flow(), ScenarioCommand.Create(), ElasticCommand.Create(), JournalPostgres(), Failover(), ChaosCommand.Create(), CalibrateBench.Create(),
        Soak.SoakCommand.Create(),
    ];

    private static Command Engine()
    {
        var json = Output.JsonOption();
        var orders = Output.PositiveOption("--orders", "Marketplace orders to apply (1–5 lines over 100,000 SKUs).", 5_000_000);
        var batch = Output.PositiveOption("--batch", "Orders per engine batch.", 1000, Core.Limits.CommandsPerBatchMax);
        var buyers = Output.PositiveOption("--flash-buyers", "Distinct buyers in the flash-sale mix (10,000 units, limit 1 each).", 1_000_000);
        var command = new Command("engine", "Orders applied per second by one engine on one core, and bytes allocated per order.") { json, orders, batch, buyers };
        command.SetAction(parse =>
        {
            var options = new EngineBenchOptions(
                Orders: parse.GetValue(orders),
                OrdersPerBatch: parse.GetValue(batch),
                FlashBuyers: parse.GetValue(buyers));
            var result = Output.WithProgress("engine", p => EngineBenchmark.Run(options, p));
            var table = new Table().AddColumns("mix", "orders", "orders/s", "allocated B/order", "accepted", "note");
            table.AddRow("marketplace (1–5 lines, 100k SKUs)", $"{result.Orders:N0}",
                $"{Output.Rate(result.OrdersPerS)} (rounds {Output.Rate(result.WorstRoundOrdersPerS)}–{Output.Rate(result.BestRoundOrdersPerS)})",
                $"{result.AllocatedBytesPerOrder:F2}", $"{result.Accepted:N0}", $"state {result.StateBytesPerOrder:F0} B/order");
            table.AddRow("flash sale (1 SKU, limit 1)", $"{result.FlashBuyers:N0}", Output.Rate(result.FlashOrdersPerS),
                $"{result.FlashAllocatedBytesPerOrder:F2}", $"{result.FlashAccepted:N0}", $"oversold {result.FlashOversold}");
            table.AddRow("baseline: object model, same rules", $"{result.BaselineOrders:N0}", Output.Rate(result.BaselineOrdersPerS), "", "",
                $"engine = {result.RatioVsBaseline:F1}× baseline");
            AnsiConsole.Write(table);
            Output.WriteJson(parse.GetValue(json), result);
            return 0;
        });
        return command;
    }

    private static Command JournalBench()
    {
        var json = Output.JsonOption();
        var dir = new Option<DirectoryInfo?>("--dir") { Description = "Directory on the disk to measure (default: a temporary directory)." };
        var seconds = new Option<double>("--seconds") { Description = "Measured duration of each phase in seconds, 0.5–600 (after 1 s of warm-up).", DefaultValueFactory = _ => 5 };
        seconds.Check(value => value is >= 0.5 and <= 600 ? null : "--seconds must be between 0.5 and 600");
        var appenders = Output.PositiveOption("--appenders", "Concurrent appenders, each appending a burst of records and awaiting the last.", 64, 100_000);
        var burst = Output.PositiveOption("--burst", "Records per burst (a partition's micro-batch).", 64, 100_000);
        var single = Output.PositiveOption("--single-appenders", "Concurrent appenders in the phase where each awaits every record.", 2048, 100_000);
        var command = new Command("journal", "Durable 128-byte records per second with many appenders; ack and raw fsync latency.") { json, dir, seconds, appenders, burst, single };
        command.SetAction(async (parse, token) =>
        {
            var options = new JournalBenchOptions(
                Directory: parse.GetValue(dir)?.FullName,
                PhaseSeconds: parse.GetValue(seconds),
                Appenders: parse.GetValue(appenders),
                BurstRecords: parse.GetValue(burst),
                SingleRecordAppenders: parse.GetValue(single));
            var result = await JournalBenchmark.RunAsync(options, (stage, _) => Console.Error.WriteLine($"journal: {stage}"), token);
            var table = new Table().AddColumns("measure", "value");
            table.AddRow("raw fdatasync p50 / p99 (4 KiB appended)", $"{result.FsyncP50Ms:F3} ms / {result.FsyncP99Ms:F3} ms");
            table.AddRow($"durable records/s ({result.Appenders} appenders × {result.BurstRecords}-record bursts)", Output.Rate(result.RecordsPerS));
            table.AddRow("records per group commit (mean)", $"{result.RecordsPerGroup:F0}");
            table.AddRow("burst ack p50 / p99 at full load", $"{result.FullLoadAckP50Ms:F3} ms / {result.FullLoadAckP99Ms:F3} ms");
            table.AddRow($"durable records/s ({result.SingleRecordAppenders} appenders awaiting every record)",
                $"{Output.Rate(result.RecordsPerSOneAtATime)} (ack p99 {result.OneAtATimeAckP99Ms:F3} ms)");
            table.AddRow($"ack p50 / p99 at half rate ({Output.Rate(result.HalfRateRecordsPerS)}, open loop)", $"{result.HalfRateAckP50Ms:F3} ms / {result.AckP99Ms:F3} ms");
            table.AddRow("  group commit (write + fdatasync) p50 / p99 at half rate", $"≤ {result.HalfRateCommitP50MsAtMost:F3} ms / ≤ {result.HalfRateCommitP99MsAtMost:F3} ms");
            table.AddRow("ideal group commit on the raw disk at the same rate: p50 / p99", $"{result.IdealHalfRateAckP50Ms:F3} ms / {result.IdealHalfRateAckP99Ms:F3} ms");
            table.AddRow("ack p99 at half rate − fsync p99 (target ≤ 2 ms)", $"{result.AckP99MinusFsyncP99Ms:F3} ms");
            table.AddRow($"ack p50 / p99 at half the 1.5 M/s target ({Output.Rate(result.TargetHalfRateRecordsPerS)}, open loop)",
                $"{result.TargetHalfRateAckP50Ms:F3} ms / {result.TargetHalfRateAckP99Ms:F3} ms (commit p99 ≤ {result.TargetHalfRateCommitP99MsAtMost:F3} ms)");
            table.AddRow($"{result.PartitionJournals} journals × {result.AppendersPerJournal} appenders awaiting every record: fdatasync per journal",
                $"{Output.Rate(result.PerJournalSyncRecordsPerS)} (ack p50 / p99 {result.PerJournalSyncAckP50Ms:F3} / {result.PerJournalSyncAckP99Ms:F3} ms)");
            table.AddRow($"  the same journals sharing one group commit ({result.SharedCommitGroupsPerRound:F1} journals per flush)",
                $"{Output.Rate(result.SharedCommitRecordsPerS)} (ack p50 / p99 {result.SharedCommitAckP50Ms:F3} / {result.SharedCommitAckP99Ms:F3} ms)");
            if (result.HalfRateRefusedRecords + result.TargetHalfRateRefusedRecords > 0)
            {
                table.AddRow("records refused for backpressure (the disk fell behind the open-loop rate)",
                    $"{result.HalfRateRefusedRecords:N0} at half rate, {result.TargetHalfRateRefusedRecords:N0} at half the target");
            }
            AnsiConsole.Write(table);
            Output.WriteJson(parse.GetValue(json), result);
            return 0;
        });
        return command;
    }

    private static Command Forecast()
    {
        var json = Output.JsonOption();
        var data = new Option<FileInfo>("--data")
        {
            Description = "Weekly SKU demand to derive the series from.",
            DefaultValueFactory = _ => new FileInfo(Path.Combine("..", "shared", "data", "sales-series", "weekly_top100_sku.csv")),
        };
        var series = Output.PositiveOption("--series", "SKU series to fit and forecast.", 10_000, 1_000_000);
        var command = new Command("forecast", "Forecast 8 weeks for many SKU series with the automatic choice (SBA or ETS) (target: 10,000 in 30 s), then with the global "
            + "LightGBM model fitted across all of them (target: 10,000 in 60 s).") { json, data, series };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(data)!;
            if (!file.Exists)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] no such file: {file.FullName} (pass --data)");
                return 2;
            }
            var result = Output.WithProgress("forecast", p => ForecastBenchmark.Run(new ForecastBenchOptions(file.FullName, parse.GetValue(series)), p));
            var table = new Table().AddColumns("measure", "value");
            table.AddRow("series × weeks", $"{result.Series:N0} × {result.Weeks}");
            table.AddRow($"fit + forecast, {result.Threads} threads", $"{result.Seconds:F1} s ({result.SeriesPerS:F0} series/s)");
            table.AddRow("baseline: seasonal naive", $"{result.BaselineSeriesPerS:F0} series/s (automatic = {result.RatioVsBaseline:F4}× its rate)");
            table.AddRow("models chosen", string.Join(", ", result.Models.Select(m => $"{m.Key} {m.Value}")));
            table.AddRow("series that could not be fitted", $"{result.Failed}");
            table.AddRow("global model: fit (calibration + final) + forecast", $"{result.GlobalSeconds:F1} s for {result.GlobalSkus:N0} SKUs");
            AnsiConsole.Write(table);
            Output.WriteJson(parse.GetValue(json), result);
            return 0;
        });
        return command;
    }

    private static Command Recovery()
    {
        var json = Output.JsonOption();
        var dir = new Option<DirectoryInfo?>("--dir") { Description = "Directory for the journal (default: a temporary directory, removed afterwards)." };
        var orders = Output.PositiveOption("--orders", "Orders in the journal.", 10_000_000);
        var command = new Command("recovery", "Time to recover a journal of many orders, and memory per live order.") { json, dir, orders };
        command.SetAction(async (parse, token) =>
        {
            var options = new RecoveryBenchOptions(parse.GetValue(dir)?.FullName, parse.GetValue(orders));
            var result = await RecoveryBenchmark.RunAsync(options, (stage, _) => Console.Error.WriteLine($"recovery: {stage}"), token);
            var table = new Table().AddColumns("measure", "value");
            table.AddRow("orders in journal", $"{result.Orders:N0}");
            table.AddRow("journal bytes / snapshot bytes", $"{result.JournalBytes:N0} / {result.SnapshotBytes:N0}");
            table.AddRow("recovery (open + snapshot + replay)", $"{result.RecoveryS:F2} s");
            table.AddRow("  of which: open / snapshot load / replay", $"{result.OpenS:F2} s / {result.SnapshotLoadS:F2} s / {result.ReplayS:F2} s ({result.ReplayedRecords:N0} records)");
            table.AddRow("memory per live order", $"{result.BytesPerLiveOrder:F0} B");
            table.AddRow("state hash matches the writer's", result.StateMatches ? "yes" : "NO");
            AnsiConsole.Write(table);
            Output.WriteJson(parse.GetValue(json), result);
            return result.StateMatches ? 0 : 1;
        });
        return command;
    }


    private static Command Flow()
    {
        var json = Output.JsonOption();
        var orders = Output.PositiveOption("--orders", "Paid orders in the backlog", 1_000_000, 10_000_000);
        var partitions = Output.PositiveOption("--partitions", "Partitions of the server (a power of two)", Server.ServerOptions.DefaultPartitions, Server.ServerOptions.PartitionsMax);
        var sellers = Output.PositiveOption("--sellers", "Sellers (one SKU each) the orders spread over", 256, 10_000);
        var ingest = Output.PositiveOption("--ingest", "New orders per second taken while the backlog drains", 10_000, 1_000_000);
        var manifest = Output.PositiveOption("--manifest", "Shipments per carrier webhook at most", 100, 10_000);
        var timeout = Output.PositiveOption("--timeout", "Seconds to wait for the drain before giving up", 600, 36_000);
        var command = new Command("flow", "Drain a backlog of paid orders through planning and carrier notification (to a carrier-sim process), with intake running.")
        {
            json, orders, partitions, sellers, ingest, manifest, timeout,
        };
        command.SetAction(async parse =>
        {
            var options = new FlowBenchOptions(parse.GetValue(orders), parse.GetValue(partitions), parse.GetValue(sellers), parse.GetValue(ingest),
                parse.GetValue(manifest), parse.GetValue(timeout));
            var r = await Output.WithProgressAsync("flow", p => FlowBench.RunAsync(options, p));
            var table = new Table().AddColumns("measure", "value", "note");
            table.AddRow("orders", $"{r.Orders:N0}", $"paid, in the backlog when the stages started (built in {r.BacklogBuildS:F1} s)");
            table.AddRow("planned_s", $"{r.PlannedS:F1}", "every order planned and stored");
            table.AddRow("drain_s", $"{r.DrainS:F1}", $"every shipment accepted by the carrier; {r.CarrierRequests:N0} webhooks of ≤ {r.ManifestShipments}");
            table.AddRow("orders_per_s", $"{r.OrdersPerS:N0}", "backlog / drain_s");
            table.AddRow("ingest_orders_per_s", $"{r.IngestOrdersPerS:N0}", $"new orders taken meanwhile (asked: {options.IngestPerS:N0}/s); batch p99 {r.IngestP99Ms:F1} ms");
            table.AddRow("ingest_worst_second", $"{r.IngestWorstSecond:N0}", "fewest new orders taken in one second of the drain");
            table.AddRow("carrier duplicates", $"{r.CarrierDuplicates:N0}", "shipments the carrier received again (same id)");
            AnsiConsole.Write(table);
            Output.WriteJson(parse.GetValue(json), r);
            return double.IsNaN(r.DrainS) ? 1 : 0;
        });
        return command;
    }

    private static Command Http()
    {
        var json = Output.JsonOption();
        var seconds = Output.PositiveOption("--seconds", "Measured seconds of each phase (after --warmup seconds of load)", 10, 600);
        var connections = Output.PositiveOption("--connections", "Keep-alive connections of the load generator", 16, 1_024);
        var batch = Output.PositiveOption("--batch", "Orders per /v1/orders/batch request", 1_000, 1_000);
        var partitions = Output.PositiveOption("--partitions", "Partitions of the server (a power of two)", Server.ServerOptions.DefaultPartitions, Server.ServerOptions.PartitionsMax);
        var sellers = Output.PositiveOption("--sellers", "Sellers (one SKU each) the orders spread over", 256, 10_000);
        var warmup = Output.PositiveOption("--warmup", "Seconds of load before each phase is measured (the JIT settles meanwhile)", 5, 120);
        var command = new Command("http", "Orders per second through the HTTP API (single and batch, durable) next to a bare Kestrel ceiling, on loopback.")
        {
            json, seconds, connections, batch, partitions, sellers, warmup,
        };
        command.SetAction(async parse =>
        {
            var options = new HttpBenchOptions(parse.GetValue(seconds), parse.GetValue(connections), parse.GetValue(batch), parse.GetValue(partitions), parse.GetValue(sellers), parse.GetValue(warmup));
            var r = await Output.WithProgressAsync("http", p => HttpBench.RunAsync(options, p));
            var table = new Table().AddColumns("measure", "value", "note");
            table.AddRow("kestrel_ceiling_per_s", $"{r.KestrelCeilingPerS:N0}", $"bare endpoint, POST of {r.OrderBytes} B, {r.Connections} connections");
            table.AddRow("single_orders_per_s", $"{r.SingleOrdersPerS:N0}", $"{r.SingleVsCeiling:P0} of the ceiling; p99 {r.SingleP99Ms:F1} ms");
            table.AddRow("batch_orders_per_s", $"{r.BatchOrdersPerS:N0}", $"{r.BatchOrders} orders per request; p50 {r.BatchP50Ms:F1} ms, p99 {r.BatchP99Ms:F1} ms");
            table.AddRow("p99_ms at 80%", $"{r.P99Ms:F1}", $"paced at {r.PacedOrdersPerS:N0} orders/s; p50 {r.P50Ms:F1} ms");
            table.AddRow("gc_pause_share at 80%", $"{r.GcPauseShare:P1}", "of the paced phase's wall time the process was paused for garbage collection");
            table.AddRow("allocated_bytes_per_order", $"{r.AllocatedBytesPerOrder:N0}", $"batches (single orders: {r.SingleAllocatedBytesPerOrder:N0}); the whole process, load generator included");
            table.AddRow("oversold", $"{r.Oversold}", "units sold or held beyond stock, over every SKU (4 of them sell out during the run)");
            table.AddRow("lost", $"{r.Lost}", $"of {r.Acknowledged:N0} acknowledged orders, read back by id: {r.ReadBack:N0} found");
            AnsiConsole.Write(table);
            Output.WriteJson(parse.GetValue(json), r);
            return r.Oversold == 0 && r.Lost == 0 ? 0 : 1;
        });
        return command;
    }

    private static Command JournalPostgres()
    {
        var json = Output.JsonOption();
        var seconds = Output.PositiveOption("--seconds", "Measured seconds per journal (after 1 s of warm-up)", 10, 600);
        var appenders = Output.PositiveOption("--appenders", "Concurrent appenders, each appending a burst and awaiting its last record", 16, 10_000);
        var burst = Output.PositiveOption("--burst", "Records per burst (a partition's micro-batch)", 64, 10_000);
        var command = new Command("journal-postgres", "Durable 128-byte records per second of the PostgreSQL journal (cluster mode) next to the local "
            + "segment journal, same appenders, same run (starts Debian's PostgreSQL on loopback).") { json, seconds, appenders, burst };
        command.SetAction(async parse =>
        {
            var r = await Output.WithProgressAsync("journal-postgres",
                p => PostgresJournalBench.RunAsync(parse.GetValue(seconds), parse.GetValue(appenders), parse.GetValue(burst), p));
            var table = new Table().AddColumns("journal", "durable records/s", "burst ack p50 / p99");
            table.AddRow("PostgreSQL (one COPY per commit, synchronous_commit on)", Output.Rate(r.PostgresRecordsPerS), $"{r.PostgresBurstP50Ms:F2} / {r.PostgresBurstP99Ms:F2} ms");
            table.AddRow("local segment journal (fdatasync)", Output.Rate(r.LocalRecordsPerS), $"{r.LocalBurstP50Ms:F2} / {r.LocalBurstP99Ms:F2} ms");
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"PostgreSQL journal = {r.PostgresVsLocal:F2}× the local journal ({r.Appenders} appenders × {r.BurstRecords}-record bursts of {r.RecordBytes} B)");
            Output.WriteJson(parse.GetValue(json), r);
            return 0;
        });
        return command;
    }

    private static Command Failover()
    {
        var json = Output.JsonOption();
        var silos = Output.PositiveOption("--silos", "Silos in the cluster (at least 2: one is killed each round)", 3, 16);
        var rounds = Output.PositiveOption("--rounds", "Silos killed, one per round (a new one joins before the next)", 3, 50);
        var partitions = Output.PositiveOption("--partitions", "Partitions spread over the silos", 8, 256);
        var sellers = Output.PositiveOption("--sellers", "Sellers, one prober each (one order in flight, 20 ms apart)", 24, 1_000);
        var command = new Command("failover", "Time from kill -9 of a silo to every partition serving again on the others, in a cluster of `surge serve` "
            + "silos on this machine (PostgreSQL and Redis on loopback); every acknowledged order is read back afterwards.") { json, silos, rounds, partitions, sellers };
        command.SetAction(async parse =>
        {
            if (parse.GetValue(silos) < 2)
            {
                Console.Error.WriteLine("surge bench failover: --silos must be at least 2 (one is killed, the others take its partitions)");
                return 2;
            }
            var options = new FailoverBenchOptions
            {
                Silos = parse.GetValue(silos), Rounds = parse.GetValue(rounds), Partitions = parse.GetValue(partitions), Sellers = parse.GetValue(sellers),
            };
            FailoverBenchResult r;
            try
            {
                r = await Output.WithProgressAsync("failover", p => FailoverBench.RunAsync(options, p));
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"surge bench failover: {e.Message}");
                return 1;
            }
            // Narrow headers: the table fits 80 columns.
            var table = new Table().AddColumns("round", "killed", "partitions", "served again", "delayed", "sent", "acked", "refused", "lost");
            foreach (var round in r.Rounds)
            {
                table.AddRow($"{round.Round}", $"silo {round.Silo}", string.Join(",", round.Partitions), $"{round.ServedAgainS:F2} s", $"{round.SellersDelayed}/{r.Sellers}",
                    $"{round.Sent:N0}", $"{round.Acknowledged:N0}", $"{round.Refused:N0}", $"{round.Lost:N0}");
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"served again after kill -9: median {r.ServedAgainMedianS:F2} s, worst {r.ServedAgainMaxS:F2} s; lost {r.Lost}; failure detection: {r.Detection}");
            Output.WriteJson(parse.GetValue(json), r);
            return r.Lost == 0 ? 0 : 1;
        });
        return command;
    }
}
