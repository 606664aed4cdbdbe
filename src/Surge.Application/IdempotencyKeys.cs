using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Surge.Core;

namespace Surge.Application;

/// <summary>
/// How a client's Idempotency-Key becomes the engine's <see cref="IdempotencyKey"/>: the key is the first 128 bits of
/// SHA-256 over the caller's scope (role, seller, resource) and the key text, so two callers' keys never meet and no
/// one can aim a key at another's; the request hash is the first 64 bits of SHA-256 over the request in a canonical
/// form (field order and spacing of the JSON do not matter). A cryptographic hash, because keys come from outside.
/// </summary>
public static class IdempotencyKeys
{
    /// <summary>Longest Idempotency-Key, in characters.</summary>
    public const int KeyCharsMax = 255;

    /// <summary>True for a key of 1 to <see cref="KeyCharsMax"/> printable characters.</summary>
    public static bool IsValid(string key) => key.Length is > 0 and <= KeyCharsMax && !key.Any(char.IsControl);

    public static IdempotencyKey Of(string scope, string key, ulong requestHash, long retainUntilMs)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(scope + "\n" + key), digest);
        return new IdempotencyKey(BinaryPrimitives.ReadUInt128LittleEndian(digest), requestHash, retainUntilMs);
    }

    /// <summary>The first 64 bits of SHA-256 over <paramref name="canonical"/>.</summary>
    public static ulong RequestHash(string canonical)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(canonical), digest);
        return BinaryPrimitives.ReadUInt64LittleEndian(digest);
    }

    /// <summary>An order's canonical form: buyer, destination and lines in the order given.</summary>
    public static ulong RequestHash(OrderRequest order)
    {
        var text = new StringBuilder().Append(order.BuyerId).Append('\n').Append(order.Country).Append('\n').Append(order.Region).Append('\n')
            .Append(order.PostalCode);
        foreach (var line in order.Lines)
        {
            text.Append('\n').Append(line.SellerId).Append('\t').Append(line.Sku).Append('\t').Append(line.Quantity);
        }
        return RequestHash(text.ToString());
    }

    /// <summary>The scope of order placements: one key names one order, through the single or the batch endpoint.</summary>
    public static string OrderScope(Principal caller) => $"{caller.Role}:{caller.SellerId}:orders";
}
