using Surge.Core;

namespace Surge.Server;

/// <summary>Keeps every partition's warehouses and the routing catalog equal to the control log's (same order
/// everywhere, so a warehouse has the same engine reference in every partition).</summary>
public sealed class WarehouseSync(ServerOptions options, ControlStore control, Catalog catalog, Gateway gateway) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>A warehouse's engine reference, or -1. A miss on a shared control log re-reads it first: the
    /// warehouse may have been created through another silo a moment ago.</summary>
    public async ValueTask<int> WarehouseIndexAsync(string id)
    {
        var index = catalog.WarehouseIndex(id);
        if (index < 0 && control.Shared)
        {
            control.Refresh();
            if (control.WarehouseCount != catalog.Warehouses.Count)
            {
                await SyncWarehousesAsync();
            }
            index = catalog.WarehouseIndex(id);
        }
        return index;
    }

    /// <summary>Brings every partition's warehouses up to the control log (same order everywhere, so a
    /// warehouse has the same engine reference in every partition).</summary>
    public async Task SyncWarehousesAsync()
    {
        await _gate.WaitAsync();
        try
        {
            var wanted = control.Warehouses;
            await Task.WhenAll(Enumerable.Range(0, options.Partitions).Select(async p =>
            {
                var have = await gateway.Grain(p).ReadWarehouses();
                for (var i = 0; i < have.Length; i++)
                {
                    if (i >= wanted.Count || have[i] != wanted[i].Id)
                    {
                        throw new InvalidOperationException($"partition {p} has warehouse '{have[i]}' at {i}, the control log does not");
                    }
                }
                foreach (var warehouse in wanted.Skip(have.Length))
                {
                    var result = await gateway.Submit(p, w => w.UpsertWarehouse(warehouse.Id, warehouse.Region, warehouse.Country));
                    if (!result.Outcome.Accepted)
                    {
                        throw new InvalidOperationException($"partition {p} refused warehouse '{warehouse.Id}': {result.Outcome.Reason.ToCode()}");
                    }
                }
            }));
            catalog.SetWarehouses(wanted);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
