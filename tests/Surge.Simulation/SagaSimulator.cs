using Microsoft.Extensions.Time.Testing;
using Surge.Application;
using Surge.Core;

namespace Surge.Simulation;

/// <summary>
/// Multi-seller carts through the application layer (<see cref="OrderSaga"/>) across several partitions, each a real
/// engine and journal on a simulated disk, with the process dying at a random submit of a step — while a cart
/// reserves, confirms, releases or expires — and restarting (recovery, then the reconciliation a server runs at start).
/// After every step, from the engines themselves: every cart is all or nothing (its seller orders all held, all paid,
/// or all released), no hold outlives its expiry once the partitions have ticked, no unit is oversold, and what a
/// caller was told succeeded (a placement, a payment) is still so. Half the carts carry an idempotency key (and a
/// buyer of their own); a placement whose answer a crash took is retried with its key later, and so, now and then, is
/// one that was answered: every key comes to at most one cart in the engines, and to the order first answered. Final
/// seller orders retire from the engines after a short retention; the checks count them with their carts (from the
/// archive the saga reads them from, as a server reads its read model).
/// </summary>
public sealed class SagaSimulator(int seed)
{
    private const int PartitionCount = 4;
    private const int SkusPerSeller = 2;
    private const int UnitsPerSku = 12; // small, so that carts are refused for want of stock (the compensation path)
    private static readonly long[] Sellers = [1, 2, 3, 4, 5, 6, 7];
    private static readonly TimeSpan ReservationTtl = TimeSpan.FromMinutes(10);

    /// <summary>How long a final seller order stays in its partition: short, so that carts retire during a run.</summary>
    private static readonly TimeSpan Retention = TimeSpan.FromMinutes(30);

    private readonly Random _random = new(seed);
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 11, 0, 0, 0, TimeSpan.Zero));
    private readonly List<long> _placed = []; // carts a caller was told are placed
    private readonly HashSet<long> _paid = []; // carts a caller was told are paid
    private readonly List<(string Key, OrderRequest Request)> _keyed = []; // keyed placements, by key number
    private readonly Dictionary<string, long> _answered = []; // key → the order it was answered with
    private SimulatedPartitions _partitions = null!;
    private OrderSaga _saga = null!;

    public int Crashes { get; private set; }
    public int CartsPlaced => _placed.Count;
    public int CartsPaid => _paid.Count;
    public int MultiSellerCarts { get; private set; }
    public int KeyedRetries { get; private set; }

    /// <summary>Seller orders retired from the engines by the end of the run.</summary>
    public int Retired { get; private set; }

    /// <summary>Placements and payments refused, by problem code.</summary>
    public Dictionary<string, int> Refused { get; } = [];

    public async Task RunAsync(int steps)
    {
        _partitions = new SimulatedPartitions(PartitionCount, seed, _clock);
        await SetUpAsync();
        NewProcess();
        for (var step = 0; step < steps; step++)
        {
            var roll = _random.Next(100);
            if (roll < 12)
            {
                // The process dies at one of the next few submits, inside whatever the step does.
                _partitions.DieAtSubmit = _partitions.Submits + 1 + _random.Next(4);
            }
            switch (_random.Next(100))
            {
                case < 45:
                    await PlaceAsync();
                    break;
                case < 70:
                    await PayAsync();
                    break;
                case < 80:
                    await CancelAsync();
                    break;
                case < 90:
                    _clock.Advance(TimeSpan.FromSeconds(_random.Next(1, 120)));
                    break;
                default:
                    await ExpireAsync();
                    break;
            }
            if (_partitions.Dead || _partitions.DieAtSubmit is not null)
            {
                await RestartAsync();
            }
            Check(step);
        }
        await RestartAsync();
        Check(steps);
        Retired = _partitions.Retired().Count();
    }

    private async Task SetUpAsync()
    {
        for (var p = 0; p < PartitionCount; p++)
        {
            await _partitions.Submit(p, w => w.UpsertWarehouse("wh-seoul", "seoul", "KR"));
            await _partitions.Submit(p, w => w.UpsertWarehouse("wh-busan", "busan", "KR"));
            await _partitions.Submit(p, w => w.ConfigureRetention((long)Retention.TotalMilliseconds, Ids.ChildIdBlockBits));
        }
        foreach (var seller in Sellers)
        {
            var partition = _partitions.PartitionOf(seller);
            for (var i = 0; i < SkusPerSeller; i++)
            {
                var definition = new SkuDefinition(seller, $"sku-{i}", $"Item {i} of seller {seller}", "misc", 300, 10, 10, 10,
                    TemperatureClass.Ambient, false, 1_000, "KRW");
                var sku = (int)(await _partitions.Submit(partition, w => w.UpsertSku(definition))).Outcome.Ref;
                await _partitions.Submit(partition, w => w.ReceiveStock(sku, i % 2, UnitsPerSku));
            }
        }
    }

    /// <summary>A process starts: a new saga (its parent ids continue after every id any partition holds), and the
    /// reconciliation a server runs before serving.</summary>
    private void NewProcess()
    {
        _saga = new OrderSaga(_partitions, _partitions, new OrderSagaOptions { Clock = _clock, ReservationTtl = ReservationTtl }) { Archive = _partitions };
        _saga.ResumeSequence(Enumerable.Range(0, PartitionCount).Max(p => PartitionReads.LastParentSequence(_partitions.Engine(p))));
    }

    private async Task RestartAsync()
    {
        if (_partitions.Dead)
        {
            Crashes++;
        }
        _partitions.Restart();
        NewProcess();
        await _saga.ReconcileAsync(olderThan: TimeSpan.Zero);
    }

    private async Task PlaceAsync()
    {
        if (_keyed.Count > 0 && _random.Next(4) == 0)
        {
            // A client retries a keyed cart: one whose answer a crash took if there is one, else any.
            var unanswered = _keyed.Where(k => !_answered.ContainsKey(k.Key)).ToList();
            var (retryKey, retryRequest) = unanswered.Count > 0 && _random.Next(3) > 0 ? unanswered[_random.Next(unanswered.Count)] : _keyed[_random.Next(_keyed.Count)];
            KeyedRetries++;
            await PlaceKeyedAsync(retryKey, retryRequest);
            return;
        }
        var sellers = Sellers.OrderBy(_ => _random.Next()).Take(1 + _random.Next(3)).ToArray();
        var lines = sellers.SelectMany(s => Enumerable.Range(0, 1 + _random.Next(2))
            .Select(i => new OrderLineRequest(s, $"sku-{(i + _random.Next(2)) % SkusPerSeller}", 1 + _random.Next(4)))).ToArray();
        if (_random.Next(2) == 0)
        {
            var key = $"cart-{_keyed.Count}";
            var keyedRequest = new OrderRequest("k" + key, "KR", "seoul", "04524", lines);
            _keyed.Add((key, keyedRequest));
            await PlaceKeyedAsync(key, keyedRequest);
            return;
        }
        var request = new OrderRequest($"buyer-{_random.Next(50)}", "KR", _random.Next(2) == 0 ? "seoul" : "busan", "04524", lines);
        var result = await _saga.PlaceAsync(request);
        if (result.Order is { } order)
        {
            _placed.Add(order.Id);
            MultiSellerCarts += sellers.Length > 1 ? 1 : 0;
        }
        else
        {
            Count("place " + result.Problem!.Value.Code);
        }
    }

    private async Task PlaceKeyedAsync(string key, OrderRequest request)
    {
        var keyed = IdempotencyKeys.Of("simulation", key, IdempotencyKeys.RequestHash(request), (_clock.GetUtcNow() + TimeSpan.FromDays(1)).ToUnixTimeMilliseconds());
        var result = await _saga.PlaceAsync(request, keyed);
        if (result.Order is { } order)
        {
            Ensure(!_answered.TryGetValue(key, out var first) || first == order.Id,
                $"key {key} was answered with order {first}, and now with {order.Id}");
            if (_answered.TryAdd(key, order.Id))
            {
                _placed.Add(order.Id);
                MultiSellerCarts += order.SellerOrders.Length > 1 ? 1 : 0;
            }
        }
        else
        {
            var problem = result.Problem!.Value;
            Count("keyed place " + problem.Code);
            // A retry the process died under is told to retry; any other refusal contradicts the order it was given.
            Ensure(!_answered.TryGetValue(key, out var first) || problem.Kind is Refusal.Unavailable or Refusal.Busy,
                $"key {key} was answered with order {first}, and now with {problem}");
        }
    }

    private async Task PayAsync()
    {
        // Mostly a recent cart (likely still held), sometimes any (paid already, cancelled, expired).
        if (_placed.Count == 0)
        {
            return;
        }
        var cart = _placed[_random.Next(2) == 0 ? _random.Next(_placed.Count) : Math.Max(0, _placed.Count - 1 - _random.Next(5))];
        var result = await _saga.PayAsync(cart);
        if (result.Order is not null)
        {
            _paid.Add(cart);
        }
        else
        {
            Count("pay " + result.Problem!.Value.Code);
        }
    }

    private async Task CancelAsync()
    {
        if (_placed.Count == 0)
        {
            return;
        }
        var cart = _placed[_random.Next(_placed.Count)];
        _paid.Remove(cart); // asked to cancel: from now on both outcomes are right
        await _saga.CancelAsync(cart, CancelReason.Buyer);
    }

    /// <summary>Time passes beyond some holds' expiry, and every partition ticks (a server's expiry timer).</summary>
    private async Task ExpireAsync()
    {
        _clock.Advance(ReservationTtl * (0.5 + _random.NextDouble()));
        for (var p = 0; p < PartitionCount; p++)
        {
            try
            {
                await _partitions.Submit(p, w => w.Tick());
            }
            catch (Exception e) when (e is AdmissionException or Journal.JournalException)
            {
                return; // the process died: the restart recovers, and the next batches expire what is due
            }
        }
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (order, partition) in AllSellerOrders())
        {
            Ensure(order.Status != OrderStatus.PendingPayment || order.ExpiresAtMs > now,
                $"seller order {order.OrderId} in partition {partition} still holds stock {now - order.ExpiresAtMs} ms after its expiry");
        }
    }

    private IEnumerable<(OrderSnapshot Order, int Partition)> AllSellerOrders()
    {
        for (var p = 0; p < PartitionCount; p++)
        {
            var engine = _partitions.Engine(p);
            for (var i = 0; i < engine.OrderCount; i++)
            {
                yield return (engine.GetOrderAt(i), p);
            }
        }
    }

    /// <summary>The invariants, read from the engines (not through the saga).</summary>
    private void Check(int step)
    {
        for (var p = 0; p < PartitionCount; p++)
        {
            _partitions.Engine(p).CheckInvariants(); // available ≥ 0, received = on hand + sold, reserved = live holds
        }
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        // Seller orders retired from the engines (final, past the retention) still belong to their carts.
        var carts = AllSellerOrders().Select(o => o.Order).Concat(_partitions.Retired())
            .GroupBy(o => o.ParentId).ToDictionary(g => g.Key, g => g.ToArray());
        foreach (var (cart, children) in carts)
        {
            // A hold past its expiry counts as released: the partition cancels it at its next batch.
            var held = children.Count(c => c.Status == OrderStatus.PendingPayment && c.ExpiresAtMs > now);
            var paid = children.Count(c => c.Status is not (OrderStatus.PendingPayment or OrderStatus.Cancelled));
            var complete = children.Length == Ids.Sellers(cart);
            var allHeld = complete && held == children.Length;
            var allPaid = complete && paid == children.Length;
            Ensure(allHeld || allPaid || held + paid == 0,
                $"step {step}: cart {cart} is partly done: {Describe(children)} of {Ids.Sellers(cart)} seller orders");
        }
        foreach (var cart in _paid)
        {
            Ensure(carts.TryGetValue(cart, out var children) && children.Length == Ids.Sellers(cart)
                && children.All(c => c.Status is not (OrderStatus.PendingPayment or OrderStatus.Cancelled)),
                $"step {step}: cart {cart} was acknowledged as paid but is {(children is null ? "gone" : Describe(children))}");
        }
        // A key is one cart: every cart of a keyed buyer (each key has its own) is the same one, the one it was answered with.
        foreach (var (key, request) in _keyed)
        {
            var buyer = Ids.Buyer(request.BuyerId);
            var parents = carts.Where(c => c.Value.Any(o => o.BuyerId == buyer)).Select(c => c.Key).ToArray();
            Ensure(parents.Length <= 1, $"step {step}: key {key} placed {parents.Length} carts: {string.Join(", ", parents)}");
            Ensure(!_answered.TryGetValue(key, out var answered) || parents.SequenceEqual([answered]),
                $"step {step}: key {key} was answered with {answered} but the engines hold {string.Join(", ", parents)}");
        }
        foreach (var cart in _placed)
        {
            Ensure(carts.TryGetValue(cart, out var children) && children.Length == Ids.Sellers(cart),
                $"step {step}: cart {cart} was acknowledged as placed but has {children?.Length ?? 0} of {Ids.Sellers(cart)} seller orders");
        }
    }

    private void Count(string what) => Refused[what] = Refused.GetValueOrDefault(what) + 1;

    private static string Describe(OrderSnapshot[] children) =>
        string.Join(", ", children.Select(c => $"{c.OrderId}:{c.Status.ToCode()}"));

    private void Ensure(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"saga simulation seed {seed}: {message}");
        }
    }
}
