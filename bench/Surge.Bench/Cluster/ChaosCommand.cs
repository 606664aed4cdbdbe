using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace Surge.Bench;

/// <summary>`surge bench chaos`: clients, a carrier and subscribers against a cluster under a seeded nemesis; then every
/// promise is checked.</summary>
internal static class ChaosCommand
{
    public static Command Create()
    {
        var json = Output.JsonOption("report");
        var silos = Output.PositiveOption("--silos", "Silos the cluster keeps (at least 2; the nemesis adds one at most and drains down to two)", 3, 8);
        var minutes = new Option<double>("--minutes") { Description = "Minutes the clients and the nemesis run (0.5–600); the quiet phase and the check follow.", DefaultValueFactory = _ => 2 };
        minutes.Check(value => value is >= 0.5 and <= 600 ? null : "--minutes must be between 0.5 and 600");
        var seed = new Option<int>("--seed") { Description = "Seed of the clients, the nemesis and the injected failures (a run can be repeated).", DefaultValueFactory = _ => 1 };
        var rate = Output.PositiveOption("--rate", "Orders started per second over all clients", 40, 10_000);
        var partitions = Output.PositiveOption("--partitions", "Partitions spread over the silos", 8, 256);
        var keep = new Option<bool>("--keep") { Description = "Keep the run's directory (each silo's log, the carrier's capture) and print where it is." };
        var command = new Command("chaos", "Clients that place single and multi-seller orders, pay, cancel and retry with the same Idempotency-Key through "
            + "random silos, a carrier and webhook subscribers, against a cluster of `surge serve` silos on this machine (PostgreSQL and Redis on loopback) "
            + "while a seeded nemesis kills -9, pauses, restarts, adds and drains silos; then, once quiet, counts lost and duplicate orders, oversold units, "
            + "paid orders never shipped, shipments sent under two webhook ids, tracking and notifications lost or out of order. Every count must be 0 "
            + "(the exit code is 1 otherwise).")
        {
            json, silos, minutes, seed, rate, partitions, keep,
        };
        command.SetAction(async parse =>
        {
            if (parse.GetValue(silos) < 2)
            {
                Console.Error.WriteLine("surge bench chaos: --silos must be at least 2 (a fault leaves the others serving)");
                return 2;
            }
            var options = new ChaosBenchOptions
            {
                Silos = parse.GetValue(silos), Minutes = parse.GetValue(minutes), Seed = parse.GetValue(seed), OrdersPerS = parse.GetValue(rate),
                Partitions = parse.GetValue(partitions), Keep = parse.GetValue(keep),
            };
            ChaosBenchResult r;
            try
            {
                r = await Output.WithProgressAsync("chaos", p => ChaosBench.RunAsync(options, p));
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"surge bench chaos: {e.Message}");
                return 2;
            }
            var table = new Table().AddColumns("measure", "value");
            table.AddRow("run", $"{r.Minutes:F1} min, seed {r.Seed}, {r.Silos} silos, {r.Partitions} partitions, {r.OrdersPerS:N0} orders/s offered");
            table.AddRow("orders acknowledged / refused / in doubt", $"{r.OrdersAcknowledged:N0} / {r.OrdersRefused:N0} / {r.OrdersInDoubt:N0}");
            table.AddRow("payments / cancellations acknowledged", $"{r.Payments:N0} / {r.Cancellations:N0}");
            table.AddRow("retries (timeouts, 5xx, 409 in flight) / replayed answers", $"{r.Retries:N0} ({r.Timeouts:N0}, {r.ServerErrors:N0}, {r.InFlightAnswers:N0}) / {r.Replays:N0}");
            table.AddRow("faults injected", $"{r.FaultsInjected} ({string.Join(", ", r.FaultsByKind.OrderBy(f => f.Key).Select(f => $"{f.Key} {f.Value}"))}); "
                + $"{r.SilosStarted} silos started, {r.SiloFailures} left on their own");
            table.AddRow("quiet after", $"{r.QuietAfterS:F1} s{(r.Quiet ? "" : r.OrdersInDoubt > 0 ? " (but orders still in doubt after every retry)" : " (not quiet: deadline passed)")}");
            foreach (var (name, value) in new (string, long)[]
            {
                ("lost", r.Lost), ("duplicates", r.Duplicates), ("oversold", r.Oversold), ("stock mismatch", r.StockMismatch), ("paid, not shipped", r.PaidNotShipped),
                ("carrier duplicate shipments", r.CarrierDuplicateShipments), ("tracking out of order", r.TrackingOutOfOrder),
                ("notifications lost", r.NotificationsLost), ("notifications out of order", r.NotificationsOutOfOrder),
            })
            {
                table.AddRow(name, value == 0 ? "0" : $"[red]{value.ToString(CultureInfo.InvariantCulture)}[/]");
            }
            table.AddRow("checked", $"{r.OrdersInStore:N0} orders ({r.AbortedPlacements:N0} released whole after a failed placement), {r.ShipmentsChecked:N0} shipments, {r.CarrierManifests:N0} manifests, "
                + $"{r.NotificationsReceived:N0} notifications ({r.NotificationsRefused:N0} refused on purpose)");
            AnsiConsole.Write(table);
            foreach (var example in r.Examples)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]{example}[/]");
            }
            AnsiConsole.MarkupLineInterpolated($"[grey]network partition: {r.NetworkPartition}. {r.Note}.[/]");
            Output.WriteJson(parse.GetValue(json), r);
            return r.Violations == 0 && r.Quiet ? 0 : 1;
        });
        return command;
    }
}
