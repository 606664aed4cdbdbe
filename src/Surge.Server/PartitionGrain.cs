using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Surge.Autoscale;
using Surge.Core;
using Surge.Journal;
using Surge.Runtime;

namespace Surge.Server;

[GenerateSerializer, Immutable]
public sealed record SkuEntry([property: Id(0)] long SellerId, [property: Id(1)] string Code, [property: Id(2)] int Ref);

/// <summary>What a gateway needs to route orders to a partition: its SKUs.</summary>
[GenerateSerializer, Immutable]
public sealed record PartitionCatalog([property: Id(0)] SkuEntry[] Skus);

[GenerateSerializer, Immutable]
public sealed record WarehouseStock(
    [property: Id(0)] int Warehouse, [property: Id(1)] int OnHand, [property: Id(2)] int Reserved, [property: Id(3)] long Sold);

[GenerateSerializer, Immutable]
public sealed record SkuView(
    [property: Id(0)] long SellerId,
    [property: Id(1)] string Code,
    [property: Id(2)] string Title,
    [property: Id(3)] string Category,
    [property: Id(4)] long PriceMinor,
    [property: Id(5)] string Currency,
    [property: Id(6)] int WeightGrams,
    [property: Id(7)] TemperatureClass Temperature,
    [property: Id(8)] bool Hazmat,
    [property: Id(9)] long? FlashStartsAtMs,
    [property: Id(10)] int PerBuyerLimit,
    [property: Id(11)] WarehouseStock[] Stock,
    [property: Id(12)] int LengthMm = 0,
    [property: Id(13)] int WidthMm = 0,
    [property: Id(14)] int HeightMm = 0)
{
    /// <summary>The catalog attributes as an upsert would carry them.</summary>
    public SkuDefinition Definition() =>
        new(SellerId, Code, Title, Category, WeightGrams, LengthMm, WidthMm, HeightMm, Temperature, Hazmat, PriceMinor, Currency);
}

[GenerateSerializer, Immutable]
public sealed record SkuPage([property: Id(0)] SkuView[] Skus, [property: Id(1)] int NextIndex, [property: Id(2)] bool More);

[GenerateSerializer, Immutable]
public sealed record LineView([property: Id(0)] string Sku, [property: Id(1)] int Warehouse, [property: Id(2)] int Quantity);

[GenerateSerializer, Immutable]
public sealed record SellerOrderView(
    [property: Id(0)] long Id,
    [property: Id(1)] long ParentId,
    [property: Id(2)] long SellerId,
    [property: Id(3)] OrderStatus Status,
    [property: Id(4)] CancelReason CancelReason,
    [property: Id(5)] long PlacedAtMs,
    [property: Id(6)] long ExpiresAtMs,
    [property: Id(7)] LineView[] Lines);

[GenerateSerializer, Immutable]
public sealed record OrderPage([property: Id(0)] SellerOrderView[] Orders, [property: Id(1)] int NextIndex, [property: Id(2)] bool More);

/// <summary>Weekly demand of one SKU: units of its seller orders that were paid (or went further), by the week in
/// which they were placed (week 0 starts at the query's start), and the units available now.</summary>
[GenerateSerializer, Immutable]
public sealed record SkuDemand([property: Id(0)] string Sku, [property: Id(1)] double[] WeeklyUnits, [property: Id(2)] long Available);

[GenerateSerializer, Immutable]
public sealed record PartitionStats(
    [property: Id(0)] int Skus, [property: Id(1)] int Orders, [property: Id(2)] long JournalSequence, [property: Id(3)] long RecoveredRecords,
    [property: Id(4)] double RecoveryMs, [property: Id(5)] long LastParentSequence);

[GenerateSerializer, Immutable]
public sealed record CarrierHealthView(
    [property: Id(0)] string CarrierId, [property: Id(1)] string Breaker, [property: Id(2)] int Queued, [property: Id(3)] long Sent,
    [property: Id(4)] long Failed, [property: Id(5)] long DeadLetters);

/// <summary>A partition's downstream figures (<see cref="Application.PartitionFlowStatus"/> on the wire).</summary>
[GenerateSerializer, Immutable]
public sealed record FlowStatusView(
    [property: Id(0)] int Partition, [property: Id(1)] long Position, [property: Id(2)] long LagRecords, [property: Id(3)] double LagSeconds,
    [property: Id(4)] long Orders, [property: Id(5)] long Shipments, [property: Id(6)] CarrierHealthView[] Carriers);

/// <summary>A notification's fate (<see cref="Application.NotificationSummary"/> on the wire).</summary>
[GenerateSerializer, Immutable]
public sealed record NotificationView(
    [property: Id(0)] string Id, [property: Id(1)] string Type, [property: Id(2)] long OrderId, [property: Id(3)] long AtMs,
    [property: Id(4)] Flow.NotificationState State, [property: Id(5)] string? Reason);

/// <summary>How far the read model is behind a partition (<see cref="ReadModel.ProjectionStatus"/> on the wire).</summary>
[GenerateSerializer, Immutable]
public sealed record ReadModelStatusView(
    [property: Id(0)] int Partition, [property: Id(1)] long Position, [property: Id(2)] long LagRecords, [property: Id(3)] double LagSeconds);

/// <summary>
/// One partition as an Orleans grain: it owns the partition's engine and journal (through
/// <see cref="PartitionHost"/>) and is the only writer. Gateways send whole batches ([Immutable] bytes, no
/// copy in-process); one call = one engine batch = one journal record, answered when that record is durable.
/// Reentrant so that the next batch is applied while the previous one is being synced: each call's apply +
/// append is synchronous within its turn, so the engine still sees one batch at a time.
/// </summary>
public interface IPartitionGrain : IGrainWithIntegerKey
{
    /// <summary>Applies and journals a stamped batch; answers the packed <see cref="BatchReply"/> once durable.</summary>
    Task<Immutable<byte[]>> Execute(Immutable<byte[]> batch);

    Task<PartitionCatalog> ReadCatalog();

    /// <summary>The partition's warehouse ids, in engine reference order.</summary>
    Task<string[]> ReadWarehouses();

    /// <summary>A seller's SKU by code: its reference, or -1.</summary>
    Task<int> FindSku(long sellerId, string code);

    Task<SkuView?> GetSku(int sku);

    /// <summary>A seller's SKUs in catalog order from engine index <paramref name="fromIndex"/>, those whose code or title
    /// contains <paramref name="search"/> (any case) when given; at most <paramref name="limit"/>, looking at no more than
    /// <paramref name="scanMax"/> entries in this turn.</summary>
    Task<SkuPage> ListSkus(long sellerId, string? search, int fromIndex, int limit, int scanMax);

    Task<SellerOrderView[]> GetOrders(Immutable<long[]> ids);

    /// <summary>Orders of one seller from a position of the order table on, at most <paramref name="limit"/>,
    /// scanning at most <paramref name="scanMax"/> table entries.</summary>
    Task<OrderPage> ListOrders(long sellerId, int fromIndex, int limit, int scanMax);

    /// <summary>Children of multi-seller orders that are not final yet (pending payment or paid), for reconciliation.</summary>
    Task<SellerOrderView[]> OpenMultiSellerChildren();

    Task<PartitionStats> Stats();

    /// <summary>Weekly demand of every SKU of a seller over <paramref name="weeks"/> weeks from
    /// <paramref name="fromMs"/> (scans the partition's order table once).</summary>
    Task<SkuDemand[]> SellerDemand(long sellerId, long fromMs, int weeks);

    // The partition's downstream lives on the silo that hosts the partition: these reach it from any silo.

    /// <summary>Shipments of these seller orders (<see cref="Flow.ShipmentWire"/> bytes).</summary>
    Task<Immutable<byte[]>> Shipments(Immutable<long[]> sellerOrders);

    /// <summary>Stores tracking events (<see cref="Flow.ShipmentWire"/> bytes) and moves their orders along; answers
    /// how many were new.</summary>
    Task<int> RecordTracking(Immutable<byte[]> updates);

    Task<Immutable<byte[]>> DeadLetters(string carrierId);

    Task<int> RedriveShipments(string carrierId, string[]? shipmentIds);

    Task<FlowStatusView> FlowStatus();

    /// <summary>How far the read model is behind this partition (null when its silo keeps no read model).</summary>
    Task<ReadModelStatusView?> ReadModelStatus();

    /// <summary>Pending, delivered and dead-lettered notifications of one subscription.</summary>
    Task<int[]> NotificationCounts(long subscription);

    Task<int> RedriveNotifications(long subscription);

    Task<NotificationView[]> RecentNotifications(long subscription, int limit);
}

[Reentrant]
[CollectionAgeLimit(AlwaysActive = true)]
[PartitionPlacement]
internal sealed partial class PartitionGrain(PartitionHost host, SiloRoster roster, ILogger<PartitionGrain> log) : Grain, IPartitionGrain
{
    private DurablePartition _partition = null!;
    private SoldOutScreen _screen = null!; // every batch of this activation goes through it
    private Task _snapshot = Task.CompletedTask;
    private IGrainTimer? _expiryTimer;
    private IGrainTimer? _placementTimer;
    private long _activatedAt;
    private int _index;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _index = (int)this.GetPrimaryKeyLong();
        _partition = host.Open(_index);
        _screen = new SoldOutScreen(_partition);
        var interval = host.Options.Orders.ExpiryCheckInterval;
        _expiryTimer = this.RegisterGrainTimer(ExpireDueAsync, new GrainTimerCreationOptions(interval, interval) { Interleave = true });
        if (host.Options.Cluster is { } cluster)
        {
            var recovery = _partition.Recovery;
            LogActivated(log, _index, recovery.ReplayedRecords, (long)(recovery.SnapshotLoad + recovery.Replay).TotalMilliseconds);
            _activatedAt = Environment.TickCount64;
            _placementTimer = this.RegisterGrainTimer(CheckPlacement,
                new GrainTimerCreationOptions(cluster.PlacementCheck, cluster.PlacementCheck) { Interleave = true });
        }
        return Task.CompletedTask;
    }

    /// <summary>Moves this partition to the silo the assignment gives it, once it has stayed here long enough. The
    /// move: Orleans lets the running calls finish and holds new ones, <see cref="OnDeactivateAsync"/> closes the
    /// journal, the placement director picks the silo, and the held calls go to the new activation, which recovers
    /// from the shared journal (its epoch fences this one out).</summary>
    private Task CheckPlacement()
    {
        var cluster = host.Options.Cluster!;
        if (Environment.TickCount64 - _activatedAt < (long)cluster.PlacementResidenceMin.TotalMilliseconds)
        {
            return Task.CompletedTask;
        }
        var silos = roster.ActiveSilos();
        var local = roster.Local;
        if (silos.Count > 1 && silos.Contains(local)
            && PartitionAssignment.SiloFor(_index, host.Options.Partitions, silos) != local)
        {
            MigrateOnIdle();
        }
        return Task.CompletedTask;
    }

    private Engine Engine => _partition.Engine;

    public async Task<Immutable<byte[]>> Execute(Immutable<byte[]> batch)
    {
        using var execute = ServerTelemetry.Source.StartActivity("partition.execute");
        execute?.SetTag("surge.partition", _index);
        var screened = _screen.Execute(batch.Value);
        var reply = screened.Reply.Pack();
        StartSnapshotIfDue();
        using var commit = ServerTelemetry.Source.StartActivity("journal.commit");
        try
        {
            await screened.Durable;
        }
        catch (Journal.JournalException) when (host.Options.Cluster is not null)
        {
            // Fenced (another activation took the partition over) or the database failed: this activation's state
            // is no longer the partition's. It leaves, so that the next call recovers a fresh one from the journal.
            DeactivateOnIdle();
            throw;
        }
        return reply.AsImmutable();
    }



    /// <summary>Unpaid holds expire at the start of any batch past their deadline; a partition nobody writes to
    /// gets a Tick so that its holds still return to stock on time.</summary>
    private async Task ExpireDueAsync(CancellationToken cancellationToken)
    {
        var now = host.Options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (Engine.NextExpiryMs is not { } due || due > now)
        {
            return;
        }
        var writer = new CommandWriter(64).Begin(now).Tick();
        var ticket = _screen.Submit(writer.Written);
        StartSnapshotIfDue();
        await ticket.Durable;
    }

    /// <summary>Captures a snapshot in memory within this turn (so the engine does not change meanwhile); it is
    /// written in the background. One at a time; a failed one leaves the journal complete (recovery replays
    /// more), and the next is taken when the policy next says so.</summary>
    private void StartSnapshotIfDue()
    {
        if (_partition.SnapshotDue && _snapshot.IsCompleted)
        {
            _snapshot = _partition.SnapshotAsync();
        }
    }

    /// <summary>Answers a read of the engine once everything it may reflect is durable. The partition is reentrant, so
    /// a read can run while an applied batch is still being synced; answering at once would let a client see (and act
    /// on) a payment or an order that a crash then takes back. The value is taken now, in this turn; the wait is for
    /// the batches applied up to now only (usually none, or one sync).</summary>
    private async Task<T> Settled<T>(T value)
    {
        try
        {
            await _partition.AppliedDurable;
        }
        catch (Journal.JournalException) when (host.Options.Cluster is not null)
        {
            DeactivateOnIdle();
            throw;
        }
        return value;
    }

    public Task<string[]> ReadWarehouses() => Settled(Engine.Warehouses.Select(w => w.Code).ToArray());

    public Task<int> FindSku(long sellerId, string code) => Settled(Engine.FindSku(sellerId, code));

    public Task<PartitionCatalog> ReadCatalog()
    {
        var skus = new SkuEntry[Engine.SkuCount];
        for (var i = 0; i < skus.Length; i++)
        {
            var sku = Engine.GetSku(i);
            skus[i] = new SkuEntry(sku.SellerId, sku.Code, i);
        }
        return Settled(new PartitionCatalog(skus));
    }

    public Task<SkuView?> GetSku(int sku) => Settled<SkuView?>(sku < 0 || sku >= Engine.SkuCount ? null : SkuAt(sku));

    public Task<SkuPage> ListSkus(long sellerId, string? search, int fromIndex, int limit, int scanMax)
    {
        var skus = new List<SkuView>(limit);
        var index = Math.Max(0, fromIndex);
        var end = (int)Math.Min(Engine.SkuCount, (long)index + scanMax);
        for (; index < end && skus.Count < limit; index++)
        {
            var definition = Engine.GetSku(index);
            if (definition.SellerId == sellerId && (search is null
                || definition.Code.Contains(search, StringComparison.OrdinalIgnoreCase) || definition.Title.Contains(search, StringComparison.OrdinalIgnoreCase)))
            {
                skus.Add(SkuAt(index));
            }
        }
        return Settled(new SkuPage(skus.ToArray(), index, index < Engine.SkuCount));
    }

    private SkuView SkuAt(int sku)
    {
        var definition = Engine.GetSku(sku);
        var flash = Engine.GetFlashSale(sku);
        var stock = new WarehouseStock[Engine.Warehouses.Count];
        for (var w = 0; w < stock.Length; w++)
        {
            var cell = Engine.GetStock(sku, w);
            stock[w] = new WarehouseStock(w, cell.OnHand, cell.Reserved, cell.Sold);
        }
        return new SkuView(definition.SellerId, definition.Code, definition.Title, definition.Category,
            definition.PriceMinor, definition.Currency, definition.WeightGrams, definition.Temperature, definition.Hazmat,
            flash?.StartsAtMs, flash?.PerBuyerLimit ?? 0, stock, definition.LengthMm, definition.WidthMm, definition.HeightMm);
    }

    public Task<SellerOrderView[]> GetOrders(Immutable<long[]> ids)
    {
        var found = new List<SellerOrderView>(ids.Value.Length);
        foreach (var id in ids.Value)
        {
            if (Engine.GetOrder(id) is { } order)
            {
                found.Add(View(order));
            }
        }
        return Settled(found.ToArray());
    }

    public Task<SkuDemand[]> SellerDemand(long sellerId, long fromMs, int weeks) =>
        Settled(PartitionReads.SellerDemand(Engine, sellerId, fromMs, weeks).Select(d => new SkuDemand(d.Sku, d.WeeklyUnits, d.Available)).ToArray());

    public Task<OrderPage> ListOrders(long sellerId, int fromIndex, int limit, int scanMax)
    {
        var orders = new List<SellerOrderView>(limit);
        var index = Math.Max(0, fromIndex);
        var end = (int)Math.Min(Engine.OrderCount, (long)index + scanMax);
        for (; index < end && orders.Count < limit; index++)
        {
            if (Engine.SellerAt(index) == sellerId)
            {
                orders.Add(View(Engine.GetOrderAt(index)));
            }
        }
        return Settled(new OrderPage(orders.ToArray(), index, index < Engine.OrderCount));
    }

    public Task<SellerOrderView[]> OpenMultiSellerChildren()
    {
        var open = new List<SellerOrderView>();
        for (var i = 0; i < Engine.OrderCount; i++)
        {
            var order = Engine.GetOrderAt(i);
            if (PartitionReads.IsOpenMultiSellerChild(order))
            {
                open.Add(View(order));
            }
        }
        return Settled(open.ToArray());
    }

    /// <summary>Counts, recovery figures and the largest parent sequence (walks the order table: for start-up).</summary>
    public Task<PartitionStats> Stats() =>
        Settled(new PartitionStats(Engine.SkuCount, Engine.OrderCount, _partition.Journal.LastSequence,
            _partition.Recovery.ReplayedRecords, (_partition.Recovery.SnapshotLoad + _partition.Recovery.Replay).TotalMilliseconds,
            PartitionReads.LastParentSequence(Engine)));

    private SellerOrderView View(OrderSnapshot order) => new(order.OrderId, order.ParentId, order.SellerId, order.Status,
        order.CancelReason, order.PlacedAtMs, order.ExpiresAtMs,
        order.Allocations.Select(a => new LineView(Engine.GetSku(a.Sku).Code, a.Warehouse, a.Quantity)).ToArray());

    /// <summary>This partition's downstream unit, once it has opened (it opens beside the partition, after its
    /// activation). A call that finds none — the partition began to leave while the call waited for its unit to open,
    /// or its unit is being opened again after a failure — is answered "unavailable, retry" (503), not 500.</summary>
    private async Task<Application.PartitionFlow> FlowAsync() =>
        (host.Flow is { } flow ? await flow.UnitAsync(_index) : null)
        ?? throw new PartitionUnavailableException($"partition {_index}'s downstream is not open on this silo (the partition is leaving, or its downstream is opening again); retry");

    public async Task<Immutable<byte[]>> Shipments(Immutable<long[]> sellerOrders) =>
        Surge.Flow.ShipmentWire.Write((await FlowAsync()).Shipments(sellerOrders.Value)).AsImmutable();

    public async Task<int> RecordTracking(Immutable<byte[]> updates) =>
        (await (await FlowAsync()).RecordTrackingAsync(Surge.Flow.ShipmentWire.ReadTracking(updates.Value))).Count;

    public async Task<Immutable<byte[]>> DeadLetters(string carrierId) =>
        Surge.Flow.ShipmentWire.Write((await FlowAsync()).DeadLetters(carrierId)).AsImmutable();

    public async Task<int> RedriveShipments(string carrierId, string[]? shipmentIds) =>
        await (await FlowAsync()).RedriveAsync(carrierId, shipmentIds?.ToHashSet(StringComparer.Ordinal));

    public async Task<FlowStatusView> FlowStatus() => FlowRouting.View((await FlowAsync()).Status());

    public Task<ReadModelStatusView?> ReadModelStatus() =>
        Task.FromResult(host.ReadModel?.StatusOf(_index) is { } s ? new ReadModelStatusView(s.Partition, s.Position, s.LagRecords, s.LagSeconds) : null);

    public async Task<int[]> NotificationCounts(long subscription)
    {
        var (pending, delivered, dead) = (await FlowAsync()).Outbox.Counts(subscription);
        return [pending, delivered, dead];
    }

    public async Task<int> RedriveNotifications(long subscription) => await (await FlowAsync()).Notifier.RedriveAsync(subscription);

    public async Task<NotificationView[]> RecentNotifications(long subscription, int limit) =>
        [.. FlowRouting.Summaries((await FlowAsync()).Outbox, subscription, limit).Select(n => new NotificationView(n.Id, n.Type, n.OrderId, n.AtMs, n.State, n.Reason))];

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _expiryTimer?.Dispose();
        _placementTimer?.Dispose();
        try
        {
            await _snapshot;
        }
        catch (Exception)
        {
            // A snapshot that failed is not needed: the journal holds every record.
        }
        if (host.Options.Cluster is not null)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await host.CloseAsync(_index, _partition); // a later activation here opens the journal afresh
            var (code, ms) = (reason.ReasonCode, clock.ElapsedMilliseconds);
            LogLeft(log, _index, code, ms);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "partition {Partition} activated here: recovered {Records} records in {Ms} ms")]
    private static partial void LogActivated(ILogger logger, int partition, long records, long ms);

    [LoggerMessage(Level = LogLevel.Information, Message = "partition {Partition} left this silo ({Reason}); its journal closed in {Ms} ms")]
    private static partial void LogLeft(ILogger logger, int partition, DeactivationReasonCode reason, long ms);
}
