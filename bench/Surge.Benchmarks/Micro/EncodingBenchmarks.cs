using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Surge.Core;
using Surge.Journal;

namespace Surge.Benchmarks.Micro;

/// <summary>
/// Why commands travel as Surge's binary layout and not as JSON: encoding, validating and framing a
/// batch of 1,000 orders (1–5 lines) as the journal stores it, against System.Text.Json doing the same
/// with the same data (the baseline).
/// </summary>
[MemoryDiagnoser]
public class EncodingBenchmarks
{
    private const int Orders = 1000;

    public sealed record JsonLine(int Sku, int Quantity);

    public sealed record JsonOrder(long OrderId, long ParentId, long BuyerId, long SellerId, long ExpiresAtMs, int ShipRegion,
        ushort ShipCountry, JsonLine[] Lines);

    private readonly CommandWriter _writer = new(Orders * 96);
    private readonly byte[] _record = new byte[Orders * 96 + RecordFormat.RecordHeaderBytes];
    private OrderLine[][] _lines = [];
    private JsonOrder[] _json = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _lines = Enumerable.Range(0, Orders)
            .Select(_ => Enumerable.Range(0, random.Next(1, 6)).Select(_ => new OrderLine(random.Next(100_000), random.Next(1, 4))).ToArray())
            .ToArray();
        _json = _lines.Select((l, i) => new JsonOrder(i + 1, i + 1, 77, 1001, 1_800_000_000_000, 2, 0x4B52,
            l.Select(x => new JsonLine(x.Sku, x.Quantity)).ToArray())).ToArray();
    }

    [Benchmark(Baseline = true, Description = "JSON: serialize + parse 1,000 orders")]
    public int Json()
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(_json);
        return JsonSerializer.Deserialize<JsonOrder[]>(bytes)!.Length;
    }

    [Benchmark(Description = "Surge: encode + validate + CRC32C-frame 1,000 orders")]
    public int Binary()
    {
        _writer.Begin(1_800_000_000_000);
        for (var i = 0; i < _lines.Length; i++)
        {
            _writer.PlaceOrder(i + 1, i + 1, 77, 1001, 1_800_000_000_000, 2, 0x4B52, _lines[i]);
        }
        BatchFormat.Validate(_writer.Written);
        return RecordFormat.Write(_record, 1, _writer.Written);
    }
}
