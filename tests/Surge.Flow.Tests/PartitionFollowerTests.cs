using Surge.Core;
using Surge.Journal;
using Surge.Testing;

namespace Surge.Flow.Tests;

public sealed class PartitionFollowerTests : IAsyncDisposable
{
    private const long Seller = 3;
    private const long T0 = 1_767_225_600_000;
    private static readonly JournalOptions Options = new() { SegmentBytesMax = 4096, PreallocateSegments = false };
    private readonly SimulatedStorage _partitionDisk = new(seed: 5);
    private readonly SimulatedStorage _followerDisk = new(seed: 6);
    private readonly CommandWriter _writer = new();
    private DurablePartition? _partition;

    private DurablePartition Partition => _partition ??= DurablePartition.Recover(SegmentJournal.Open(_partitionDisk, Options));

    public async ValueTask DisposeAsync()
    {
        if (_partition is not null)
        {
            await _partition.Journal.DisposeAsync();
        }
    }

    private async Task SubmitAsync(long nowMs, Action<CommandWriter> commands)
    {
        commands(_writer.Begin(nowMs));
        await Partition.Submit(_writer.Written).Durable;
    }

    private async Task CatalogAsync()
    {
        await SubmitAsync(T0, w => w
            .UpsertWarehouse("wh-seoul", "kr-seoul", "KR")
            .UpsertWarehouse("wh-busan", "kr-busan", "KR")
            .UpsertSku(new SkuDefinition(Seller, "kimchi", "Kimchi 1 kg", "food", 1_000, 200, 150, 100, TemperatureClass.Chilled, false, 12_000, "KRW"))
            .UpsertSku(new SkuDefinition(Seller, "mug", "Mug", "kitchen", 400, 120, 90, 100, TemperatureClass.Ambient, false, 9_000, "KRW"))
            .ReceiveStock(0, 0, 10)
            .ReceiveStock(1, 1, 10));
    }

    private static int Drain(IJournalReader reader, PartitionFollower follower, List<OrderFact> facts, List<PaidOrder> paid) =>
        reader.Read(int.MaxValue, (sequence, payload) => follower.Apply(sequence, payload, facts, paid));

    [Fact]
    public async Task Follower_TurnsRecordsIntoFacts_AndPaidOrdersWithLinesAndDestination()
    {
        await CatalogAsync();
        await SubmitAsync(T0 + 1_000, w => w
            .PlaceOrder(64, 1, 900, Seller, T0 + 60_000, Partition.Engine.FindRegion("kr-busan"), CountryCode.Pack("KR"),
                [new OrderLine(0, 2), new OrderLine(1, 1)])
            .PlaceOrder(128, 2, 901, Seller, T0 + 60_000, -1, CountryCode.Pack("JP"), [new OrderLine(1, 1)]));
        await SubmitAsync(T0 + 2_000, w => w.ConfirmPayment(64).CancelOrder(128, CancelReason.Buyer));
        await SubmitAsync(T0 + 3_000, w => w.AdvanceStatus(64, OrderStatus.Allocated));

        var follower = new PartitionFollower();
        using var reader = Partition.Journal.OpenReader(0);
        var facts = new List<OrderFact>();
        var paid = new List<PaidOrder>();
        Assert.Equal(4, Drain(reader, follower, facts, paid));

        Assert.Equal(
            [(FactKind.Placed, 64L), (FactKind.Placed, 128L), (FactKind.Paid, 64L), (FactKind.Cancelled, 128L), (FactKind.StatusAdvanced, 64L)],
            facts.Select(f => (f.Kind, f.OrderId)));
        Assert.Equal(CancelReason.Buyer, facts[3].CancelReason);
        Assert.Equal(OrderStatus.Allocated, facts[4].Status);
        Assert.Equal(T0 + 2_000, facts[2].AtMs);
        var order = Assert.Single(paid);
        Assert.Equal((64L, 1L, Seller, 900L, T0 + 2_000), (order.OrderId, order.ParentId, order.SellerId, order.BuyerId, order.PaidAtMs));
        Assert.Equal(new Destination("KR", "kr-busan"), order.Destination);
        Assert.Equal([("kimchi", "wh-seoul", 2), ("mug", "wh-busan", 1)],
            order.Lines.Select(l => (l.Sku.Code, l.Warehouse.Code, l.Quantity)).OrderBy(l => l.Item1, StringComparer.Ordinal));
        Assert.Equal(0, follower.UnpaidOrders);
        Assert.Equal(Partition.Engine.StateHash(), follower.Engine.StateHash());
    }

    [Fact]
    public async Task SavedFollower_ResumesWhereItStopped_AndKnowsTheDestinationsOfUnpaidOrders()
    {
        await CatalogAsync();
        await SubmitAsync(T0 + 1_000, w => w.PlaceOrder(64, 1, 900, Seller, T0 + 60_000, Partition.Engine.FindRegion("kr-seoul"),
            CountryCode.Pack("KR"), [new OrderLine(0, 1)]));
        var first = new PartitionFollower();
        using (var reader = Partition.Journal.OpenReader(0))
        {
            Drain(reader, first, [], []);
        }
        first.Save(_followerDisk);
        await SubmitAsync(T0 + 2_000, w => w.ConfirmPayment(64));

        var resumed = PartitionFollower.Load(_followerDisk);
        Assert.Equal(2, resumed.Sequence);
        Assert.Equal(1, resumed.UnpaidOrders);
        var paid = new List<PaidOrder>();
        using (var reader = Partition.Journal.OpenReader(resumed.Sequence))
        {
            Assert.Equal(1, Drain(reader, resumed, [], paid));
        }
        Assert.Equal(new Destination("KR", "kr-seoul"), Assert.Single(paid).Destination);
        Assert.Equal(Partition.Engine.StateHash(), resumed.Engine.StateHash());
    }

    [Fact]
    public void Load_WithNoCheckpoint_StartsAtTheBeginning_AndADamagedNewestFallsBackToAnOlderOne()
    {
        Assert.Equal(0, PartitionFollower.Load(_followerDisk).Sequence);

        var follower = new PartitionFollower();
        var writer = new CommandWriter();
        follower.Apply(1, writer.Begin(T0).UpsertWarehouse("wh", "r", "KR").Written, [], []);
        var older = follower.Save(_followerDisk);
        using (var copy = _followerDisk.Open("keep.bin", create: true))
        using (var source = _followerDisk.Open(older.Name, create: false))
        {
            var bytes = new byte[source.Length];
            source.Read(0, bytes);
            copy.Write(0, bytes);
        }
        follower.Apply(2, writer.Begin(T0).Tick().Written, [], []);
        var newer = follower.Save(_followerDisk);
        _followerDisk.Rename("keep.bin", older.Name); // the older checkpoint is still there, the newer one is damaged
        using (var file = _followerDisk.Open(newer.Name, create: false))
        {
            var last = new byte[1];
            file.Read(file.Length - 1, last);
            file.Write(file.Length - 1, [(byte)(last[0] ^ 0xFF)]);
        }

        Assert.Equal(1, PartitionFollower.Load(_followerDisk).Sequence);
    }

    [Fact]
    public void Apply_OutOfOrder_IsRefused()
    {
        var follower = new PartitionFollower();
        var batch = new CommandWriter().Begin(T0).Tick().Written.ToArray();
        Assert.Throws<InvalidOperationException>(() => follower.Apply(2, batch, [], []));
    }
}
