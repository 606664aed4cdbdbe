using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Surge.Core;
using Surge.Journal;
using Surge.Runtime;

namespace Surge.Cli;

/// <summary>
/// A flash sale on one embedded, durable partition: buyers hammer a phone with limited stock, every batch is
/// journaled (group commit + fdatasync) before its answers count, unpaid holds expire and go back on sale,
/// then the partition is recovered from its journal and compared with the live state.
/// </summary>
internal static class DemoCommand
{
    private const long SellerPhones = 1;
    private const long SellerHome = 2;
    private const int BuyersPerBatch = 1000;
    private const int BuyersPerWave = 10_000;
    private const long HoldMs = 10 * 60 * 1000;

    public static Command Create()
    {
        var buyers = Output.PositiveOption("--buyers", "Buyers rushing the flash sale.", 200_000, 5_000_000);
        var units = Output.PositiveOption("--units", "Phones on sale.", 10_000, Limits.StockMovementUnitsMax);
        var data = new Option<DirectoryInfo?>("--data") { Description = "Keep the journal in this directory (default: a temporary one, removed at the end)." };
        var json = Output.JsonOption("summary");
        var command = new Command("demo", "Run a flash sale on an embedded, durable partition and show what happened.") { buyers, units, data, json };
        command.SetAction(async (parse, token) =>
        {
            var buyerCount = parse.GetValue(buyers);
            var unitCount = parse.GetValue(units);
            var keep = parse.GetValue(data);
            var directory = keep?.FullName ?? Path.Combine(Path.GetTempPath(), $"surge-demo-{Environment.ProcessId}");
            try
            {
                var summary = await RunAsync(directory, buyerCount, unitCount, token);
                Output.WriteJson(parse.GetValue(json), summary);
                return summary.Oversold == 0 && summary.RecoveredIdentical ? 0 : 1;
            }
            finally
            {
                if (keep is null && Directory.Exists(directory))
                {
                    Directory.Delete(directory, recursive: true);
                }
            }
        });
        return command;
    }

    internal sealed record DemoSummary(
        int Buyers,
        int Units,
        long Accepted,
        long SoldOut,
        long LimitExceeded,
        long NotStarted,
        long Paid,
        long Expired,
        long SecondChanceAccepted,
        long Sold,
        long OnHand,
        long Oversold,
        double OrdersPerS,
        long JournalRecords,
        long GroupCommits,
        double RecoveryS,
        bool RecoveredIdentical);

    private sealed class Tally
    {
        public long Accepted, SoldOut, LimitExceeded, NotStarted;
        public List<long> Winners { get; } = [];

        public void Count(Engine engine) => Count(engine.Outcomes.ToArray());

        public void Count(IEnumerable<CommandResult> results) => Count(results.Select(r => r.Outcome).ToArray());

        private void Count(CommandOutcome[] outcomes)
        {
            foreach (var o in outcomes)
            {
                if (o.Kind != CommandKind.PlaceOrder)
                {
                    continue;
                }
                switch (o.Reason)
                {
                    case RejectReason.None: Accepted++; Winners.Add(o.Ref); break;
                    case RejectReason.InsufficientStock: SoldOut++; break;
                    case RejectReason.LimitExceeded: LimitExceeded++; break;
                    case RejectReason.SaleNotStarted: NotStarted++; break;
                    default: break;
                }
            }
        }
    }

    private static async Task<DemoSummary> RunAsync(string directory, int buyers, int units, CancellationToken token)
    {
        AnsiConsole.Write(new Rule("[bold]Surge demo: a flash sale on one durable partition[/]").LeftJustified());
        AnsiConsole.MarkupLineInterpolated($"journal: [grey]{directory}[/]");
        var journal = SegmentJournal.Open(new DirectoryStorage(directory), new JournalOptions { SegmentBytesMax = 16 * 1024 * 1024 });
        var partition = DurablePartition.Recover(journal, new EngineOptions(ExpectedOrders: buyers * 2));
        var engine = partition.Engine;
        var clock = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), engine.NowMs + 1);
        var saleStart = clock + 5_000;
        var writer = new CommandWriter(1 << 20);

        async Task Submit(CommandWriter w) => await partition.Submit(w.Written).Durable.WaitAsync(token);

        writer.Begin(clock)
            .UpsertWarehouse("icn-1", "kr-incheon", "KR")
            .UpsertWarehouse("pus-1", "kr-busan", "KR")
            .UpsertWarehouse("lhr-1", "gb-london", "GB")
            .UpsertSku(new SkuDefinition(SellerPhones, "GX-26-256", "Galaxy X26 256GB (flash sale)", "phones", 196, 162, 77, 8, TemperatureClass.Ambient, false, 999_000, "KRW"))
            .UpsertSku(new SkuDefinition(SellerHome, "MUG-01", "Stoneware mug, 350 ml", "kitchen", 380, 120, 90, 100, TemperatureClass.Ambient, false, 12_000, "KRW"));
        await Submit(writer);
        var phone = engine.FindSku(SellerPhones, "GX-26-256");
        var mug = engine.FindSku(SellerHome, "MUG-01");
        var incheon = engine.FindWarehouse("icn-1");
        var busan = engine.FindWarehouse("pus-1");
        writer.Begin(clock).ReceiveStock(phone, incheon, units - units / 3).ReceiveStock(phone, busan, units / 3)
            .ReceiveStock(mug, engine.FindWarehouse("lhr-1"), 50_000).ConfigureFlashSale(phone, saleStart, perBuyerLimit: 1);
        await Submit(writer);
        AnsiConsole.MarkupLineInterpolated($"{units:N0} phones in 2 warehouses, on sale at +5 s, one per buyer; {buyers:N0} buyers are waiting.");

        var early = new Tally();
        writer.Begin(clock + 1_000);
        for (var b = 1; b <= Math.Min(500, buyers); b++)
        {
            PlaceFor(writer, engine, orderId: 10_000_000 + b, buyer: b, phone, 1, clock + 1_000);
        }
        await Submit(writer);
        early.Count(engine);

        var rush = new Tally();
        var random = new Random(2026);
        var timer = Stopwatch.StartNew();
        var orders = 0L;
        var saleClock = new ManualClock(saleStart);
        var runner = new PartitionRunner(partition, new RunnerOptions { QueuedCommandsMax = 2 * BuyersPerWave }, saleClock);
        await AnsiConsole.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask("buyers rushing the sale", maxValue: buyers);
                var wave = new List<Task<CommandResult>>(2 * BuyersPerWave);
                for (var b = 1; b <= buyers;)
                {
                    saleClock.NowMs = saleStart + b / 100;
                    wave.Clear();
                    for (var i = 0; i < BuyersPerWave && b <= buyers; i++, b++)
                    {
                        var buyer = b;
                        var quantity = random.Next(100) < 4 ? 2 : 1; // a greedy buyer asks for two
                        wave.Add(runner.SubmitAsync(w => PlaceFor(w, engine, orderId: buyer, buyer, phone, quantity, saleClock.NowMs)));
                        if (random.Next(100) < 3)
                        {
                            wave.Add(runner.SubmitAsync(w => PlaceFor(w, engine, orderId: 20_000_000 + buyer, buyer, phone, 1, saleClock.NowMs)));
                        }
                        if (random.Next(100) < 10)
                        {
                            var mugs = 1 + random.Next(3);
                            wave.Add(runner.SubmitAsync(w => PlaceFor(w, engine, orderId: 30_000_000 + buyer, buyer, mug, mugs, saleClock.NowMs, SellerHome)));
                        }
                    }
                    rush.Count(await Task.WhenAll(wave).WaitAsync(token));
                    orders += wave.Count;
                    task.Value = b - 1;
                }
            });
        await runner.DisposeAsync();
        var rate = orders / timer.Elapsed.TotalSeconds;
        var phoneWinners = rush.Winners.Where(id => engine.GetOrder(id)!.Allocations[0].Sku == phone).ToList();

        var paid = 0L;
        var payAt = saleStart + buyers / 100 + 1_000;
        writer.Begin(payAt);
        var mugWinners = rush.Winners.Except(phoneWinners);
        foreach (var id in phoneWinners.Where((_, i) => i % 10 != 0).Concat(mugWinners))
        {
            writer.ConfirmPayment(id);
            paid++;
            if (writer.CommandCount == BuyersPerBatch)
            {
                await Submit(writer);
                writer.Begin(payAt);
            }
        }
        await Submit(writer);

        var expireAt = saleStart + buyers / 100 + HoldMs + 1;
        writer.Begin(expireAt).Tick();
        await Submit(writer);
        var expired = engine.Events.ToArray().Count(e => e.Kind == EventKind.ReservationExpired);

        var second = new Tally();
        writer.Begin(expireAt + 1);
        for (var b = buyers + 1; b <= buyers + Math.Max(2 * expired, 10); b++)
        {
            PlaceFor(writer, engine, orderId: b, buyer: b, phone, 1, expireAt + 1);
        }
        await Submit(writer);
        second.Count(engine);

        var stock = engine.GetStockTotals(phone);
        var oversold = Math.Max(0, stock.Sold + stock.Reserved - stock.Received);
        engine.CheckInvariants();
        var liveHash = engine.StateHash();
        var groupCommits = journal.GroupCommits;
        var records = journal.LastSequence;
        await journal.DisposeAsync();

        var recoveryClock = Stopwatch.StartNew();
        var reopened = SegmentJournal.Open(new DirectoryStorage(directory));
        var recovered = DurablePartition.Recover(reopened);
        recoveryClock.Stop();
        var identical = recovered.Engine.StateHash() == liveHash;
        await reopened.DisposeAsync();

        var table = new Table().Title("what happened").AddColumns("", "count");
        table.AddRow("tried before the start (sale_not_started)", $"{early.NotStarted:N0}");
        table.AddRow("phones reserved in the rush", $"{phoneWinners.Count:N0}");
        table.AddRow("turned away: sold out (insufficient_stock)", $"{rush.SoldOut:N0}");
        table.AddRow("turned away: one per buyer (limit_exceeded)", $"{rush.LimitExceeded:N0}");
        table.AddRow("mugs ordered alongside (another seller)", $"{rush.Winners.Count - phoneWinners.Count:N0}");
        table.AddRow("paid (9 in 10 phone winners, every mug buyer)", $"{paid:N0}");
        table.AddRow("unpaid holds expired after 10 min, back on sale", $"{expired:N0}");
        table.AddRow("second-chance buyers who got one", $"{second.Accepted:N0}");
        table.AddRow("phones sold / still on hand", $"{stock.Sold:N0} / {stock.OnHand:N0}");
        table.AddRow("[bold]oversold[/]", oversold == 0 ? "[green]0[/]" : $"[red]{oversold}[/]");
        table.AddRow("orders per second (each one a separate request, answered once durable)", Output.Rate(rate));
        table.AddRow("journal records / group commits", $"{records:N0} / {groupCommits:N0}");
        table.AddRow("recovery from the journal", $"{recoveryClock.Elapsed.TotalMilliseconds:F0} ms, state {(identical ? "[green]identical[/]" : "[red]DIFFERENT[/]")}");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[grey]next: ./surge bench engine · ./surge bench journal · ./surge bench recovery · ./surge verify journal DIR[/]");

        return new DemoSummary(buyers, units, rush.Winners.Count, rush.SoldOut, rush.LimitExceeded, early.NotStarted, paid, expired,
            second.Accepted, stock.Sold, stock.OnHand, oversold, rate, records, groupCommits, recoveryClock.Elapsed.TotalSeconds, identical);
    }

    /// <summary>The sale's own clock: the demo compresses a rush into simulated seconds.</summary>
    private sealed class ManualClock(long nowMs) : TimeProvider
    {
        private long _nowMs = nowMs;

        public long NowMs
        {
            get => Volatile.Read(ref _nowMs);
            set => Volatile.Write(ref _nowMs, value);
        }

        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(NowMs);
    }

    private static void PlaceFor(CommandWriter writer, Engine engine, long orderId, long buyer, int sku, int quantity, long now, long seller = SellerPhones)
    {
        var region = engine.FindRegion(buyer % 3 == 0 ? "kr-busan" : "kr-incheon");
        writer.PlaceOrder(orderId, orderId, buyer, seller, now + HoldMs, region, CountryCode.Pack("KR"), [new OrderLine(sku, quantity)]);
    }
}
