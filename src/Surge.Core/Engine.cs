using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Surge.Core;

/// <summary>Sizes to reserve up front so the steady state allocates nothing.</summary>
public sealed record EngineOptions(int ExpectedSkus = 1024, int ExpectedOrders = 16 * 1024, int ExpectedBuyerLimits = 1024);

/// <summary>
/// The deterministic state machine of one partition: <c>Apply(batch) → outcomes + events</c>.
/// No I/O, no clock, no randomness, no locks: time enters only as the batch's <c>now_ms</c>, so replaying
/// the same batches yields the same state byte for byte. Single-threaded by contract.
/// </summary>
public sealed partial class Engine
{
    private const int InitialWarehouseStride = 4;
    private const int AllocationsPerOrderExpected = 4;
    private const int PrefetchDistanceCommands = 12;

    // Catalog (cold).
    private readonly List<WarehouseInfo> _warehouses = [];
    private readonly Dictionary<string, int> _warehouseByCode = new(StringComparer.Ordinal);
    private readonly List<string> _regions = [];
    private readonly Dictionary<string, int> _regionByName = new(StringComparer.Ordinal);
    private readonly List<SkuDefinition> _skuInfo = [];
    private readonly Dictionary<(long Seller, string Code), int> _skuByKey = [];

    // Hot tables.
    private int[] _warehouseRegion = new int[Limits.WarehousesMax];
    private ushort[] _warehouseCountry = new ushort[Limits.WarehousesMax];
    private SkuState[] _skus;
    private int _skuCount;
    private StockCell[] _cells;
    private int _stride = InitialWarehouseStride;
    private OrderRecord[] _orders;
    private int _orderCount;
    private Allocation[] _allocations;
    private int _allocationCount;
    private readonly LongIntMap _orderIndex;
    private readonly ExpiryHeap _expiries;
    private readonly BuyerQuotaMap _quotas;
    private readonly IdempotencyTable _keys = new();
    private long _nowMs = long.MinValue;

    // Output of the last Apply.
    private EngineEvent[] _events = new EngineEvent[1024];
    private int _eventCount;
    private CommandOutcome[] _outcomes = new CommandOutcome[256];
    private int _outcomeCount;
    private int _preludeEventCount;

    public Engine(EngineOptions? options = null)
    {
        options ??= new EngineOptions();
        _skus = LargeArray.New<SkuState>(Math.Max(16, options.ExpectedSkus));
        _cells = LargeArray.New<StockCell>(_skus.Length * _stride);
        _orders = LargeArray.New<OrderRecord>(Math.Max(16, options.ExpectedOrders));
        _allocations = LargeArray.New<Allocation>(Math.Max(16, options.ExpectedOrders * AllocationsPerOrderExpected));
        _orderIndex = new LongIntMap(options.ExpectedOrders);
        _expiries = new ExpiryHeap(options.ExpectedOrders);
        _quotas = new BuyerQuotaMap(options.ExpectedBuyerLimits);
    }

    /// <summary>The engine's clock: the largest <c>now_ms</c> of any batch applied so far.</summary>
    public long NowMs => _nowMs;

    /// <summary>Outcomes of the last <see cref="Apply"/>, one per command, in command order.</summary>
    public ReadOnlySpan<CommandOutcome> Outcomes => _outcomes.AsSpan(0, _outcomeCount);

    /// <summary>Events of the last <see cref="Apply"/>: first the expiries and retirements due at the batch's time
    /// (<see cref="PreludeEventCount"/> of them), then each command's events in order.</summary>
    public ReadOnlySpan<EngineEvent> Events => _events.AsSpan(0, _eventCount);

    public int PreludeEventCount => _preludeEventCount;

    /// <summary>Applies one encoded batch (see <see cref="CommandWriter"/>). A malformed batch is refused
    /// whole with <see cref="MalformedBatchException"/> before anything changes. Time never runs
    /// backwards inside the engine: a batch older than the engine's clock is applied at the clock.</summary>
    public void Apply(ReadOnlySpan<byte> batch)
    {
        BatchFormat.Validate(batch);
        _nowMs = Math.Max(_nowMs, BatchFormat.ReadNowMs(batch));
        var count = BatchFormat.ReadCommandCount(batch);
        _eventCount = 0;
        _outcomeCount = 0;
        EnsureOutcomeCapacity(count);
        ExpireDue();
        RetireDue();
        _preludeEventCount = _eventCount;
        var commands = batch[CommandWriter.BatchHeaderBytes..];
        var reader = new CommandReader(commands);
        var ahead = new CommandReader(commands);
        var prefetch = new StockPrefetcher(this);
        for (var i = 0; i < Math.Min(PrefetchDistanceCommands, count); i++)
        {
            BatchFormat.SkipCommand(ref ahead, i, ref prefetch);
        }
        for (var i = 0; i < count; i++)
        {
            ApplyOne(ref reader);
            if (i + PrefetchDistanceCommands < count)
            {
                BatchFormat.SkipCommand(ref ahead, i + PrefetchDistanceCommands, ref prefetch);
            }
        }
        Debug.Assert(reader.AtEnd);
    }

    private void ApplyOne(ref CommandReader reader)
    {
        var kind = (CommandKind)reader.U8();
        ref var outcome = ref _outcomes[_outcomeCount++];
        if (kind == CommandKind.Keyed)
        {
            ApplyKeyed(ref reader, ref outcome);
            return;
        }
        outcome = new CommandOutcome { Kind = kind, FirstEvent = _eventCount };
        ApplyCommand(kind, ref reader, ref outcome);
    }

    /// <summary>A keyed command: the first time its key is seen it is applied and its answer kept; a repeat with the
    /// same request gets that answer (<see cref="CommandOutcome.Replayed"/>) and changes nothing; a repeat with another
    /// request is refused (<see cref="RejectReason.IdempotencyKeyReused"/>).</summary>
    private void ApplyKeyed(ref CommandReader reader, ref CommandOutcome outcome)
    {
        var key = new IdempotencyKey(reader.U128(), reader.U64(), reader.I64());
        var kind = (CommandKind)reader.U8();
        outcome = new CommandOutcome { Kind = kind, FirstEvent = _eventCount };
        if (_keys.TryGet(key.Key, _nowMs, out var kept))
        {
            var none = default(NoLineVisitor);
            BatchFormat.SkipBody(ref reader, kind, 0, ref none);
            if (kept.RequestHash == key.RequestHash)
            {
                (outcome.Reason, outcome.Ref, outcome.Replayed) = (kept.Reason, kept.Ref, true);
            }
            else
            {
                outcome.Reason = RejectReason.IdempotencyKeyReused;
            }
            return;
        }
        ApplyCommand(kind, ref reader, ref outcome);
        if (outcome.Reason != RejectReason.CapacityExceeded) // "full, try later" is no answer to keep
        {
            _keys.Add(key, outcome.Reason, outcome.Ref, _nowMs);
        }
    }

    /// <summary>Idempotency keys kept now, and how many were forgotten before their retention passed (table full).</summary>
    public (int Kept, long EvictedEarly) IdempotencyKeys => (_keys.Count, _keys.EvictedEarly);

    private void ApplyCommand(CommandKind kind, ref CommandReader reader, ref CommandOutcome outcome)
    {
        outcome.Reason = kind switch
        {
            CommandKind.PlaceOrder => PlaceOrder(ref reader, ref outcome.Ref),
            CommandKind.ConfirmPayment => ConfirmPayment(ref reader, ref outcome.Ref),
            CommandKind.CancelOrder => CancelOrder(ref reader, ref outcome.Ref),
            CommandKind.ReceiveStock => ReceiveStock(ref reader, ref outcome.Ref),
            CommandKind.AdjustStock => AdjustStock(ref reader, ref outcome.Ref),
            CommandKind.Tick => RejectReason.None,
            CommandKind.ConfigureFlashSale => ConfigureFlashSale(ref reader, ref outcome.Ref),
            CommandKind.AdvanceStatus => AdvanceStatus(ref reader, ref outcome.Ref),
            CommandKind.UpsertWarehouse => UpsertWarehouse(ref reader, ref outcome.Ref),
            CommandKind.UpsertSku => UpsertSku(ref reader, ref outcome.Ref),
            CommandKind.ConfigureRetention => ConfigureRetention(ref reader, ref outcome.Ref),
            _ => throw new UnreachableException($"kind {kind} passed validation"),
        };
        outcome.EventCount = _eventCount - outcome.FirstEvent;
    }

    /// <summary>
    /// Touches the order-index slot of a new order and the SKU state and stock row of each of its lines
    /// <see cref="PrefetchDistanceCommands"/> commands before the engine gets to it. The loads are independent,
    /// so the CPU overlaps their cache misses instead of taking them one by one inside the dependent allocation
    /// logic (measured: the marketplace mix over 100,000 SKUs was bound by these misses; prefetching a whole
    /// batch up front evicted the lines again before use). A hint only: it reads nothing into the state.
    /// </summary>
    private readonly unsafe struct StockPrefetcher(Engine engine) : ILineVisitor
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Order(long orderId) => engine._orderIndex.Prefetch(orderId);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Line(int sku)
        {
            if (Sse.IsSupported && engine.IsSku(sku))
            {
                Sse.Prefetch0(Unsafe.AsPointer(ref engine._skus[sku]));
                var row = (byte*)Unsafe.AsPointer(ref engine._cells[sku * engine._stride]);
                Sse.Prefetch0(row);
                Sse.Prefetch0(row + 64);
            }
        }
    }

    private void EnsureOutcomeCapacity(int count)
    {
        if (_outcomes.Length < count)
        {
            _outcomes = new CommandOutcome[Math.Max(count, _outcomes.Length * 2)];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref EngineEvent Emit(EventKind kind, long orderId)
    {
        if (_eventCount == _events.Length)
        {
            Array.Resize(ref _events, _events.Length * 2);
        }
        ref var e = ref _events[_eventCount++];
        e = new EngineEvent { Kind = kind, OrderId = orderId };
        return ref e;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref StockCell Cell(int sku, int warehouse) => ref _cells[sku * _stride + warehouse];

    private bool IsSku(int sku) => (uint)sku < (uint)_skuCount;

    private bool IsWarehouse(int warehouse) => (uint)warehouse < (uint)_warehouses.Count;
}
