using System.Text;

namespace Surge.Core;

public sealed partial class Engine
{
    private RejectReason UpsertWarehouse(ref CommandReader reader, ref long reference)
    {
        var code = reader.Str();
        var region = reader.Str();
        var country = reader.U16();
        if (!IsValidCode(code) || region.Length == 0 || country == 0)
        {
            return RejectReason.InvalidArgument;
        }
        if (!_warehouseByCode.TryGetValue(code, out var warehouse))
        {
            if (_warehouses.Count == Limits.WarehousesMax)
            {
                return RejectReason.CapacityExceeded;
            }
            warehouse = _warehouses.Count;
            _warehouses.Add(null!);
            _warehouseByCode.Add(code, warehouse);
            EnsureStride(_warehouses.Count);
        }
        reference = warehouse;
        _warehouses[warehouse] = new WarehouseInfo(code, region, CountryCode.Unpack(country));
        _warehouseRegion[warehouse] = InternRegion(region);
        _warehouseCountry[warehouse] = country;
        Emit(EventKind.WarehouseUpserted, 0).Warehouse = warehouse;
        return RejectReason.None;
    }

    private int InternRegion(string region)
    {
        if (!_regionByName.TryGetValue(region, out var id))
        {
            id = _regions.Count;
            _regions.Add(region);
            _regionByName.Add(region, id);
        }
        return id;
    }

    /// <summary>Widens the per-SKU stock row when the warehouse count outgrows it (rare: re-lays the cells).</summary>
    private void EnsureStride(int warehouses)
    {
        if (warehouses <= _stride)
        {
            return;
        }
        var stride = _stride;
        while (stride < warehouses)
        {
            stride *= 2;
        }
        var cells = LargeArray.New<StockCell>(_skus.Length * stride);
        for (var sku = 0; sku < _skuCount; sku++)
        {
            _cells.AsSpan(sku * _stride, _stride).CopyTo(cells.AsSpan(sku * stride));
        }
        _cells = cells;
        _stride = stride;
    }

    private RejectReason UpsertSku(ref CommandReader reader, ref long reference)
    {
        var sellerId = reader.I64();
        var code = reader.Str();
        var title = reader.Str();
        var category = reader.Str();
        var weight = reader.I32();
        var length = reader.I32();
        var width = reader.I32();
        var height = reader.I32();
        var temperature = (TemperatureClass)reader.U8();
        var hazmat = reader.U8();
        var price = reader.I64();
        var currency = Encoding.ASCII.GetString(reader.Bytes(3));
        reference = -1;
        if (!IsValidCode(code) || title.Length == 0 || temperature > TemperatureClass.Frozen || hazmat > 1
            || weight is < 0 or > Limits.WeightGramsMax || !IsDimension(length) || !IsDimension(width) || !IsDimension(height)
            || price is < 0 or > Limits.PriceMinorMax || !CurrencyCode.IsValid(currency))
        {
            return RejectReason.InvalidArgument;
        }
        if (!_skuByKey.TryGetValue((sellerId, code), out var sku))
        {
            if (_skuCount == Limits.SkusMax)
            {
                return RejectReason.CapacityExceeded;
            }
            sku = AddSku(sellerId);
            _skuInfo.Add(null!);
            _skuByKey.Add((sellerId, code), sku);
        }
        reference = sku;
        _skuInfo[sku] = new SkuDefinition(sellerId, code, title, category, weight, length, width, height, temperature, hazmat == 1, price, currency);
        Emit(EventKind.SkuUpserted, 0).Sku = sku;
        return RejectReason.None;
    }

    private int AddSku(long sellerId)
    {
        if (_skuCount == _skus.Length)
        {
            LargeArray.Resize(ref _skus, _skus.Length * 2);
            LargeArray.Resize(ref _cells, _skus.Length * _stride);
        }
        var sku = _skuCount++;
        _skus[sku] = new SkuState { SellerId = sellerId };
        return sku;
    }

    private static bool IsDimension(int mm) => mm is >= 0 and <= Limits.DimensionMmMax;

    private static bool IsValidCode(string code) =>
        code.Length > 0 && Encoding.UTF8.GetByteCount(code) <= Limits.CodeBytesMax && !code.Any(char.IsControl);
}
