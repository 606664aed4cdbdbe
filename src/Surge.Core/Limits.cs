namespace Surge.Core;

/// <summary>Every bound of the engine, named with its unit last. Commands beyond a bound are rejected
/// (never truncated); batches beyond a bound are refused by <see cref="BatchFormat.Validate"/>.</summary>
public static class Limits
{
    public const int LinesPerOrderMax = 64;
    public const int QuantityPerLineMax = 1_000_000;
    /// <summary>Largest single stock movement (receipt or adjustment), in units.</summary>
    public const int StockMovementUnitsMax = 100_000_000;
    /// <summary>Largest on-hand quantity of one SKU in one warehouse, in units.</summary>
    public const int OnHandUnitsMax = 1_000_000_000;
    public const int WarehousesMax = 64;
    public const int SkusMax = 16_000_000;
    public const int OrdersMax = 200_000_000;
    public const int CommandsPerBatchMax = 65_535;
    public const int BatchBytesMax = 4 * 1024 * 1024;
    public const int TextBytesMax = 1024;
    public const int CodeBytesMax = 64;
    public const int PerBuyerLimitMax = 1_000_000;
    public const long PriceMinorMax = 1_000_000_000_000L;
    public const int WeightGramsMax = 10_000_000;
    public const int DimensionMmMax = 100_000;
    /// <summary>Idempotency keys a partition keeps at most, in keys (about 80 bytes each); beyond it the oldest are
    /// forgotten before their retention passes.</summary>
    public const int IdempotencyKeysMax = 1_000_000;
}
