using Surge.Core;

namespace Surge.Testing;

/// <summary>
/// Seeded random command batches over a small catalog: three warehouses in three regions, two sellers with
/// <see cref="SkusPerSeller"/> SKUs each, SKU 0 on flash sale. Includes duplicates, unknown orders, clock
/// jumps backwards, retirement of final orders and every command kind, so that tests meet rejections as often as
/// successes.
/// </summary>
public sealed class Workload
{
    public const int SkusPerSeller = 10;
    public static readonly long[] Sellers = [101, 202];
    public const long StartMs = 1_700_000_000_000;

    /// <summary>Retentions the workload configures (ms): at once, a minute, an hour, never.</summary>
    private static readonly long[] RetentionsMs = [0, 60_000, 3_600_000, Engine.RetainForever];

    /// <summary>The workload's ids are 1, 2, 3…: blocks of 16 of them share a retirement floor.</summary>
    public const int RetirementIdBlockBits = 4;

    private readonly Random _random;
    private readonly CommandWriter _writer = new();
    private long _nowMs = StartMs;
    private long _nextOrder = 1;

    public Workload(int seed) => _random = new Random(seed);

    public long NowMs => _nowMs;

    public static List<byte[]> RandomBatches(int seed, int count)
    {
        var workload = new Workload(seed);
        var batches = new List<byte[]> { workload.Setup() };
        while (batches.Count < count)
        {
            batches.Add(workload.NextBatch());
        }
        return batches;
    }

    /// <summary>Applies every batch, checking invariants after each, and returns all events produced.</summary>
    public static (Engine Engine, List<EngineEvent> Events) Run(Engine engine, IEnumerable<byte[]> batches)
    {
        var events = new List<EngineEvent>();
        foreach (var batch in batches)
        {
            engine.Apply(batch);
            engine.CheckInvariants();
            events.AddRange(engine.Events.ToArray());
        }
        return (engine, events);
    }

    public byte[] Setup()
    {
        _writer.Begin(_nowMs)
            .UpsertWarehouse("wh-a", "region-a", "KR")
            .UpsertWarehouse("wh-b", "region-b", "KR")
            .UpsertWarehouse("wh-c", "region-c", "GB");
        foreach (var seller in Sellers)
        {
            for (var i = 0; i < SkusPerSeller; i++)
            {
                _writer.UpsertSku(new SkuDefinition(seller, $"sku-{i}", $"Item {i} of {seller}", "misc", 100 + i, 10, 10, 10,
                    (TemperatureClass)(i % 3), i == 7, 1000 + i, "KRW"));
            }
        }
        for (var sku = 0; sku < Sellers.Length * SkusPerSeller; sku++)
        {
            for (var w = 0; w < 3; w++)
            {
                _writer.ReceiveStock(sku, w, _random.Next(0, 20));
            }
        }
        _writer.ConfigureFlashSale(0, StartMs + 60_000, perBuyerLimit: 2);
        return _writer.Written.ToArray();
    }

    public byte[] NextBatch()
    {
        AdvanceClock();
        _writer.Begin(_nowMs);
        var commands = _random.Next(1, 9);
        for (var i = 0; i < commands; i++)
        {
            NextCommand();
        }
        return _writer.Written.ToArray();
    }

    private void AdvanceClock()
    {
        var roll = _random.Next(100);
        _nowMs += roll switch
        {
            < 3 => -_random.Next(1, 120_000),      // the host clock jumps back
            < 6 => _random.Next(600_000, 3_600_000), // a long quiet spell: reservations expire
            _ => _random.Next(0, 30_000),
        };
    }

    private void NextCommand()
    {
        // One command in seven is keyed, from a small pool of keys and two request hashes, so that repeats, replays,
        // reuses with another request and expired keys all happen.
        var keyed = _random.Next(7) == 0;
        if (keyed)
        {
            _writer.Keyed(new IdempotencyKey((UInt128)_random.Next(1, 12), (ulong)_random.Next(2), _nowMs + _random.Next(-1_000, 600_000)));
        }
        var roll = _random.Next(100);
        var seller = Sellers[_random.Next(Sellers.Length)];
        var skuBase = Array.IndexOf(Sellers, seller) * SkusPerSeller;
        switch (roll)
        {
            case < 45:
                PlaceOrder(seller, skuBase);
                break;
            case < 62:
                _writer.ConfirmPayment(SomeOrder());
                break;
            case < 72:
                _writer.CancelOrder(SomeOrder(), (CancelReason)_random.Next(1, 6));
                break;
            case < 80:
                _writer.AdvanceStatus(SomeOrder(), (OrderStatus)_random.Next(1, 11));
                break;
            case < 88:
                _writer.ReceiveStock(_random.Next(-1, 21), _random.Next(-1, 4), _random.Next(-2, 15));
                break;
            case < 93:
                _writer.AdjustStock(_random.Next(0, 20), _random.Next(0, 3), _random.Next(-6, 6));
                break;
            case < 97 when !keyed: // a key never prefixes a tick
                _writer.Tick();
                break;
            case < 99:
                _writer.ConfigureFlashSale(_random.Next(0, 20), _nowMs + _random.Next(-60_000, 60_000), _random.Next(0, 4));
                break;
            default:
                // Retention from "at once" to "never", over blocks of 16 ids: final orders retire, retired ids come back.
                _writer.ConfigureRetention(RetentionsMs[_random.Next(RetentionsMs.Length)], RetirementIdBlockBits);
                break;
        }
    }

    private void PlaceOrder(long seller, int skuBase)
    {
        var lineCount = _random.Next(100) < 3 ? 0 : _random.Next(1, 5);
        var lines = new OrderLine[lineCount];
        for (var i = 0; i < lineCount; i++)
        {
            var sku = _random.Next(100) < 3 ? _random.Next(0, 25) : skuBase + _random.Next(SkusPerSeller);
            var quantity = _random.Next(100) < 3 ? _random.Next(-1, 1) : _random.Next(1, 6);
            lines[i] = new OrderLine(sku, quantity);
        }
        var orderId = _random.Next(100) < 5 && _nextOrder > 1 ? SomeOrder() : _nextOrder++;
        var buyer = _random.Next(1, 30);
        var region = _random.Next(-1, 3);
        var country = CountryCode.Pack(_random.Next(2) == 0 ? "KR" : "GB");
        _writer.PlaceOrder(orderId, orderId, buyer, seller, _nowMs + _random.Next(-1000, 900_000), region, country, lines);
    }

    private long SomeOrder() => _random.Next(1, (int)Math.Min(int.MaxValue, _nextOrder + 2));
}
