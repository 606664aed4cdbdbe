namespace Surge.Bench.Scenarios;

/// <summary>One line of a scenario order: the seller (an index into the catalog's sellers), the SKU and units.</summary>
public readonly record struct ScenarioLine(int Seller, string Sku, int Quantity);

/// <summary>What the load generator does with an order once it is accepted.</summary>
public enum FollowUp : byte { None, Pay, Cancel }

/// <summary>One order of a scenario: a buyer, its lines (SKUs in ascending order, each once) and what follows.</summary>
public sealed record ScenarioOrder(string Buyer, ScenarioLine[] Lines, FollowUp Then = FollowUp.None);

/// <summary>The answer code of the peers' placement scripts and functions: the new order's id, -1 sold out, -2 the
/// buyer's limit reached.</summary>
public static class PlacementCode
{
    public static (Outcome Outcome, string? Reference) Read(long code) => code switch
    {
        > 0 => (Outcome.Accepted, code.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        -2 => (Outcome.LimitReached, null),
        _ => (Outcome.SoldOut, null),
    };
}

/// <summary>The answer a system gave to one order.</summary>
public enum Outcome : byte
{
    Accepted,

    /// <summary>Not enough stock for a line: the fast "sold out" answer.</summary>
    SoldOut,

    /// <summary>The buyer already holds the per-buyer limit of a flash-sale SKU.</summary>
    LimitReached,

    /// <summary>Refused for another reason (overload, validation): counted, never retried.</summary>
    Rejected,

    /// <summary>No answer (an exception or a timeout): the order's fate is unknown to the buyer.</summary>
    Failed,
}

/// <summary>A SKU of the scenario's catalog: its seller, its stock, and whether each buyer may hold at most one unit.</summary>
public sealed record CatalogSku(int Seller, string Sku, long Units, bool LimitedToOnePerBuyer = false);

/// <summary>What every system is loaded with before the run: sellers (by index) and their SKUs with stock.</summary>
public sealed record Catalog(int Sellers, IReadOnlyList<CatalogSku> Skus);

/// <summary>A system's own account of its state after the run: available units per SKU, and either the number of
/// live (not cancelled) orders it stores or the units those hold.</summary>
public sealed record Audit(IReadOnlyDictionary<string, long> Available, long? LiveOrders, long? HeldUnits);

/// <summary>A system under test: PostgreSQL, Redis or Surge, started and loaded by the bench.</summary>
public interface IOrderSystem : IAsyncDisposable
{
    /// <summary>The name `--systems` uses (postgres, redis-always, redis-everysec, surge, surge-batch).</summary>
    string Key { get; }

    string Name { get; }

    /// <summary>What an acknowledged order survives, in words, shown next to every figure.</summary>
    string Durability { get; }

    /// <summary>Orders sent per request (1, or the batch size of a batch API).</summary>
    int OrdersPerRequest { get; }

    Task SetupAsync(Catalog catalog);

    /// <summary>A client for one load-generator worker (one connection, one request in flight).</summary>
    Task<IOrderClient> ConnectAsync();

    Task<Audit> AuditAsync(Catalog catalog);
}

/// <summary>One worker's connection to a system.</summary>
public interface IOrderClient : IAsyncDisposable
{
    /// <summary>Places <paramref name="count"/> orders from <paramref name="offset"/>; writes each outcome and, for
    /// accepted orders, the system's reference for a later payment or cancellation.</summary>
    Task PlaceAsync(ScenarioOrder[] orders, int offset, int count, Outcome[] outcomes, string?[] references);

    /// <summary>Confirms payment of an accepted order; false when the system refused.</summary>
    Task<bool> PayAsync(string reference);

    /// <summary>Cancels an accepted, unpaid order and returns its units; false when the system refused.</summary>
    Task<bool> CancelAsync(string reference);
}
