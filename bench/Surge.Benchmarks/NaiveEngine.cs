using Surge.Core;

namespace Surge.Benchmarks;

/// <summary>
/// The baseline: the same placement rules (validation, region-first single-warehouse allocation, split
/// when needed, all-or-nothing) written the usual object-oriented way — objects per order and per line,
/// dictionaries keyed by tuples, LINQ. It exists so the engine benchmark can report a ratio measured in
/// the same run.
/// </summary>
public sealed class NaiveEngine
{
    private sealed class Cell
    {
        public int OnHand;
        public int Reserved;
    }

    private sealed class Order
    {
        public required long Id;
        public required List<(int Sku, int Warehouse, int Quantity)> Allocations;
        public string Status = "pending_payment";
    }

    public sealed record Request(long OrderId, long SellerId, int Region, ushort Country, (int Sku, int Quantity)[] Lines);

    private readonly Dictionary<(int Sku, int Warehouse), Cell> _cells = [];
    private readonly Dictionary<int, long> _skuSeller = [];
    private readonly Dictionary<long, Order> _orders = [];
    private readonly List<(int Region, ushort Country)> _warehouses = [];

    public void AddWarehouse(int region, ushort country) => _warehouses.Add((region, country));

    public void AddSku(int sku, long seller, int unitsPerWarehouse)
    {
        _skuSeller[sku] = seller;
        for (var w = 0; w < _warehouses.Count; w++)
        {
            _cells[(sku, w)] = new Cell { OnHand = unitsPerWarehouse };
        }
    }

    public string Place(Request request)
    {
        if (_orders.ContainsKey(request.OrderId))
        {
            return "duplicate_order";
        }
        if (request.Lines.Any(l => !_skuSeller.TryGetValue(l.Sku, out var s) || s != request.SellerId))
        {
            return "unknown_sku";
        }
        var taken = new List<(int Sku, int Warehouse, int Quantity)>();
        foreach (var (sku, quantity) in request.Lines)
        {
            var candidates = Enumerable.Range(0, _warehouses.Count)
                .Select(w => (Warehouse: w, Cell: _cells[(sku, w)], Tier: Tier(w, request)))
                .OrderBy(c => c.Tier).ThenBy(c => c.Warehouse).ToList();
            var single = candidates.FirstOrDefault(c => c.Cell.OnHand - c.Cell.Reserved >= quantity);
            if (single.Cell is not null)
            {
                single.Cell.Reserved += quantity;
                taken.Add((sku, single.Warehouse, quantity));
                continue;
            }
            if (candidates.Sum(c => c.Cell.OnHand - c.Cell.Reserved) < quantity)
            {
                foreach (var (s, w, q) in taken)
                {
                    _cells[(s, w)].Reserved -= q;
                }
                return "insufficient_stock";
            }
            var remaining = quantity;
            foreach (var c in candidates.Where(c => c.Cell.OnHand > c.Cell.Reserved))
            {
                var take = Math.Min(remaining, c.Cell.OnHand - c.Cell.Reserved);
                c.Cell.Reserved += take;
                taken.Add((sku, c.Warehouse, take));
                remaining -= take;
                if (remaining == 0)
                {
                    break;
                }
            }
        }
        _orders.Add(request.OrderId, new Order { Id = request.OrderId, Allocations = taken });
        return "ok";
    }

    private int Tier(int warehouse, Request request) =>
        _warehouses[warehouse].Region == request.Region ? 0 : _warehouses[warehouse].Country == request.Country ? 1 : 2;

    /// <summary>Decodes the same encoded batches the engine applies into requests (outside the timed part).</summary>
    public static List<Request> Decode(IEnumerable<byte[]> batches)
    {
        var requests = new List<Request>();
        foreach (var batch in batches)
        {
            var reader = new CommandReader(batch.AsSpan(CommandWriter.BatchHeaderBytes));
            var count = BatchFormat.ReadCommandCount(batch);
            for (var i = 0; i < count; i++)
            {
                _ = reader.U8();
                var id = reader.I64();
                _ = reader.I64();
                _ = reader.I64();
                var seller = reader.I64();
                _ = reader.I64();
                var region = reader.I32();
                var country = reader.U16();
                var lines = new (int, int)[reader.U8()];
                for (var l = 0; l < lines.Length; l++)
                {
                    lines[l] = (reader.I32(), reader.I32());
                }
                requests.Add(new Request(id, seller, region, country, lines));
            }
        }
        return requests;
    }
}
