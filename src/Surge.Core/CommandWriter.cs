using System.Buffers.Binary;
using System.Text;

namespace Surge.Core;

/// <summary>One line of an order as the caller asks for it: a SKU reference and a quantity.</summary>
public readonly record struct OrderLine(int Sku, int Quantity);

/// <summary>A SKU's catalog attributes: what an upsert carries (text UTF-8 encoded into the batch) and what the
/// engine keeps and answers with <see cref="Engine.GetSku"/>.</summary>
public sealed record SkuDefinition(
    long SellerId,
    string Code,
    string Title,
    string Category,
    int WeightGrams,
    int LengthMm,
    int WidthMm,
    int HeightMm,
    TemperatureClass Temperature,
    bool Hazmat,
    long PriceMinor,
    string Currency);

/// <summary>
/// Encodes a batch of commands into the compact little-endian binary form that the engine applies and
/// the journal stores. One writer is reused for many batches: <see cref="Begin"/> resets it.
/// <code>
/// batch   = now_ms:i64 | command_count:i32 | command*
/// command = kind:u8 | body (by kind, all little-endian)
///   UpsertWarehouse     code:str | region:str | country:u16
///   UpsertSku           seller:i64 | code:str | title:str | category:str | weight_g:i32 | length_mm:i32
///                       | width_mm:i32 | height_mm:i32 | temperature:u8 | hazmat:u8 | price_minor:i64 | currency:3×u8
///   ReceiveStock        sku:i32 | warehouse:i32 | quantity:i32
///   AdjustStock         sku:i32 | warehouse:i32 | delta:i32
///   PlaceOrder          order:i64 | parent:i64 | buyer:i64 | seller:i64 | expires_at_ms:i64 | ship_region:i32
///                       | ship_country:u16 | line_count:u8 | (sku:i32 | quantity:i32)×line_count
///   ConfirmPayment      order:i64
///   CancelOrder         order:i64 | reason:u8
///   Tick                (empty)
///   ConfigureFlashSale  sku:i32 | starts_at_ms:i64 | per_buyer_limit:i32
///   AdvanceStatus       order:i64 | status:u8
///   ConfigureRetention  retain_ms:i64 | id_block_bits:u8
///   Keyed               key:u128 | request_hash:u64 | retain_until_ms:i64 | command (any but Keyed and Tick; one
///                       command with the one after it: counted once, answered once)
/// str = byte_count:u16 | utf8 bytes
/// </code>
/// </summary>
public sealed class CommandWriter
{
    public const int BatchHeaderBytes = 12;
    public const int PlaceOrderFixedBytes = 1 + 8 * 5 + 4 + 2 + 1;
    public const int OrderLineBytes = 8;
    public const int KeyedPrefixBytes = 1 + 16 + 8 + 8;

    private byte[] _buffer;
    private int _length;
    private int _count;

    public CommandWriter(int initialBytes = 4096) => _buffer = new byte[Math.Max(initialBytes, 64)];

    public int CommandCount => _count;
    public int Length => _length;
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    /// <summary>Starts a new batch stamped with <paramref name="nowMs"/> (Unix milliseconds).</summary>
    public CommandWriter Begin(long nowMs)
    {
        _length = BatchHeaderBytes;
        _count = 0;
        BinaryPrimitives.WriteInt64LittleEndian(_buffer, nowMs);
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(8), 0);
        return this;
    }

    /// <summary>Drops every command after the first <paramref name="count"/> (which ended at <paramref name="length"/>
    /// bytes): undoes a caller's encoding that went wrong.</summary>
    public void Truncate(int count, int length)
    {
        if (count < 0 || count > _count || length < BatchHeaderBytes || length > _length)
        {
            throw new ArgumentOutOfRangeException(nameof(count), "truncation point beyond what was written");
        }
        _count = count;
        _length = length;
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(8), _count);
    }

    /// <summary>Re-stamps the batch being written (a batch collected over time is stamped when it is closed).</summary>
    public CommandWriter Stamp(long nowMs)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer, nowMs);
        return this;
    }

    public CommandWriter UpsertWarehouse(string code, string region, string country)
    {
        Start(CommandKind.UpsertWarehouse, 3 * (2 + Limits.TextBytesMax));
        Str(code);
        Str(region);
        U16(CountryCode.Pack(country));
        return this;
    }

    public CommandWriter UpsertSku(SkuDefinition sku)
    {
        Start(CommandKind.UpsertSku, 64 + 3 * (2 + Limits.TextBytesMax));
        I64(sku.SellerId);
        Str(sku.Code);
        Str(sku.Title);
        Str(sku.Category);
        I32(sku.WeightGrams);
        I32(sku.LengthMm);
        I32(sku.WidthMm);
        I32(sku.HeightMm);
        _buffer[_length++] = (byte)sku.Temperature;
        _buffer[_length++] = sku.Hazmat ? (byte)1 : (byte)0;
        I64(sku.PriceMinor);
        CurrencyCode.Write(sku.Currency, _buffer.AsSpan(_length, 3));
        _length += 3;
        return this;
    }

    /// <summary>Makes the next command keyed: applied once per <paramref name="key"/>; a repeat gets the first answer.</summary>
    public CommandWriter Keyed(in IdempotencyKey key)
    {
        if (_count == Limits.CommandsPerBatchMax)
        {
            throw new InvalidOperationException($"a batch holds at most {Limits.CommandsPerBatchMax} commands");
        }
        Ensure(KeyedPrefixBytes);
        _buffer[_length++] = (byte)CommandKind.Keyed;
        BinaryPrimitives.WriteUInt128LittleEndian(_buffer.AsSpan(_length), key.Key);
        _length += 16;
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(_length), key.RequestHash);
        _length += 8;
        I64(key.RetainUntilMs);
        return this;
    }

    public CommandWriter ReceiveStock(int sku, int warehouse, int quantity) =>
        SkuWarehouseAmount(CommandKind.ReceiveStock, sku, warehouse, quantity);

    public CommandWriter AdjustStock(int sku, int warehouse, int delta) =>
        SkuWarehouseAmount(CommandKind.AdjustStock, sku, warehouse, delta);

    public CommandWriter PlaceOrder(long orderId, long parentId, long buyerId, long sellerId, long expiresAtMs,
        int shipRegion, ushort shipCountry, ReadOnlySpan<OrderLine> lines)
    {
        if (lines.Length > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(lines), lines.Length, "at most 255 lines fit the encoding");
        }
        Start(CommandKind.PlaceOrder, PlaceOrderFixedBytes + lines.Length * OrderLineBytes);
        I64(orderId);
        I64(parentId);
        I64(buyerId);
        I64(sellerId);
        I64(expiresAtMs);
        I32(shipRegion);
        U16(shipCountry);
        _buffer[_length++] = (byte)lines.Length;
        foreach (var line in lines)
        {
            I32(line.Sku);
            I32(line.Quantity);
        }
        return this;
    }

    public CommandWriter ConfirmPayment(long orderId)
    {
        Start(CommandKind.ConfirmPayment, 9);
        I64(orderId);
        return this;
    }

    public CommandWriter CancelOrder(long orderId, CancelReason reason) => OrderAndCode(CommandKind.CancelOrder, orderId, (byte)reason);

    public CommandWriter Tick()
    {
        Start(CommandKind.Tick, 1);
        return this;
    }

    public CommandWriter ConfigureFlashSale(int sku, long startsAtMs, int perBuyerLimit)
    {
        Start(CommandKind.ConfigureFlashSale, 17);
        I32(sku);
        I64(startsAtMs);
        I32(perBuyerLimit);
        return this;
    }

    public CommandWriter AdvanceStatus(long orderId, OrderStatus status) => OrderAndCode(CommandKind.AdvanceStatus, orderId, (byte)status);

    /// <summary>Retire final seller orders <paramref name="retainMs"/> after they became final (long.MaxValue: never);
    /// retired ids are remembered per block of ids sharing their bits above <paramref name="idBlockBits"/>.</summary>
    public CommandWriter ConfigureRetention(long retainMs, int idBlockBits)
    {
        Start(CommandKind.ConfigureRetention, 10);
        I64(retainMs);
        _buffer[_length++] = (byte)idBlockBits;
        return this;
    }

    private CommandWriter OrderAndCode(CommandKind kind, long orderId, byte code)
    {
        Start(kind, 10);
        I64(orderId);
        _buffer[_length++] = code;
        return this;
    }

    private CommandWriter SkuWarehouseAmount(CommandKind kind, int sku, int warehouse, int amount)
    {
        Start(kind, 13);
        I32(sku);
        I32(warehouse);
        I32(amount);
        return this;
    }

    /// <summary>Copies one command already encoded (kind byte and body, as <see cref="BatchFormat.NextCommand"/>
    /// delimits it in another batch) into this batch unchanged.</summary>
    public CommandWriter Encoded(ReadOnlySpan<byte> command)
    {
        if (command.IsEmpty)
        {
            throw new ArgumentException("an encoded command has at least its kind byte", nameof(command));
        }
        Start((CommandKind)command[0], command.Length - 1);
        command[1..].CopyTo(_buffer.AsSpan(_length));
        _length += command.Length - 1;
        return this;
    }

    private void Start(CommandKind kind, int maxBodyBytes)
    {
        if (_count == Limits.CommandsPerBatchMax)
        {
            throw new InvalidOperationException($"a batch holds at most {Limits.CommandsPerBatchMax} commands");
        }
        Ensure(maxBodyBytes + 1);
        _buffer[_length++] = (byte)kind;
        _count++;
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(8), _count);
    }

    private void Ensure(int extra)
    {
        if (_length + extra <= _buffer.Length)
        {
            return;
        }
        Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + extra));
    }

    private void I32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    private void I64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    private void U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(_length), value);
        _length += 2;
    }

    private void Str(string value)
    {
        var byteCount = Encoding.UTF8.GetByteCount(value);
        if (byteCount > Limits.TextBytesMax)
        {
            throw new ArgumentOutOfRangeException(nameof(value), byteCount, $"text is limited to {Limits.TextBytesMax} UTF-8 bytes");
        }
        U16((ushort)byteCount);
        _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
    }
}

/// <summary>ISO 3166-1 alpha-2 country codes packed into 16 bits (0 = unknown).</summary>
public static class CountryCode
{
    public static ushort Pack(string country)
    {
        if (country.Length != 2 || !char.IsAsciiLetter(country[0]) || !char.IsAsciiLetter(country[1]))
        {
            return 0;
        }
        return (ushort)((char.ToUpperInvariant(country[0]) << 8) | char.ToUpperInvariant(country[1]));
    }

    public static string Unpack(ushort packed) =>
        packed == 0 ? "" : string.Create(2, packed, static (span, p) =>
        {
            span[0] = (char)(p >> 8);
            span[1] = (char)(p & 0xFF);
        });
}

/// <summary>ISO 4217 currency codes stored as three ASCII bytes.</summary>
public static class CurrencyCode
{
    public static bool IsValid(string currency) =>
        currency.Length == 3 && currency.All(char.IsAsciiLetterUpper);

    /// <summary>Digits after the decimal point of a currency's minor unit (ISO 4217): 0 for KRW or JPY, 3 for KWD, else 2.</summary>
    public static int MinorDigits(string currency) => currency switch
    {
        "BIF" or "CLP" or "DJF" or "GNF" or "ISK" or "JPY" or "KMF" or "KRW" or "PYG" or "RWF" or "UGX" or "UYI" or "VND" or "VUV"
            or "XAF" or "XOF" or "XPF" => 0,
        "BHD" or "IQD" or "JOD" or "KWD" or "LYD" or "OMR" or "TND" => 3,
        _ => 2,
    };

    public static void Write(string currency, Span<byte> destination)
    {
        if (!IsValid(currency))
        {
            throw new ArgumentException($"'{currency}' is not an ISO 4217 code (three upper-case letters)", nameof(currency));
        }
        for (var i = 0; i < 3; i++)
        {
            destination[i] = (byte)currency[i];
        }
    }
}
