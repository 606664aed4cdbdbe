using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.IO.Hashing;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Surge.Core;

namespace Surge.Application;

/// <summary>
/// How API ids map onto the engine's 64-bit ids. Ids are opaque strings to clients.
/// <code>
/// seller       "sel_" + n                      n = 1, 2, … in creation order
/// order        "ord_" + parent                 parent = seq:40 | sellers−1:6 | home:10 (partition of the first seller)
/// seller order "so_" + child                   child = parent &lt;&lt; 6 | index (index = the seller's place in the order)
/// </code>
/// The parent id says how many seller orders it has and where the first one lives, so a single-seller order
/// is found with one lookup and an interrupted multi-seller placement is recognisable (fewer children than
/// the id says).
/// </summary>
public static class Ids
{
    public const int HomeBits = 10;
    public const int ChildBits = 6;
    public const int SequenceBits = 63 - 2 * ChildBits - HomeBits - 1;
    public const long SequenceMax = (1L << SequenceBits) - 1;
    public const int SellersPerOrderMax = 1 << ChildBits;

    /// <summary>Parent sequences come in blocks of 2^this, each leased to one silo, which numbers its orders in
    /// increasing order (in a single process: one silo numbers them all).</summary>
    public const int SequenceBlockBits = 20;

    /// <summary>The engine's retirement floors are kept per block of seller-order ids sharing their bits above this:
    /// the ids of one block of sequences (see <see cref="CommandWriter.ConfigureRetention"/>).</summary>
    public const int ChildIdBlockBits = HomeBits + 2 * ChildBits + SequenceBlockBits;

    public static long Parent(long sequence, int sellers, int home) =>
        sequence is < 1 or > SequenceMax || sellers is < 1 or > SellersPerOrderMax || home is < 0 or >= 1 << HomeBits
            ? throw new ArgumentOutOfRangeException(nameof(sequence), "parent id fields out of range")
            : (sequence << (HomeBits + ChildBits)) | ((long)(sellers - 1) << HomeBits) | (uint)home;

    public static long Sequence(long parent) => parent >> (HomeBits + ChildBits);
    public static int Sellers(long parent) => (int)((parent >> HomeBits) & (SellersPerOrderMax - 1)) + 1;
    public static bool IsMulti(long parent) => Sellers(parent) > 1;
    public static int Home(long parent) => (int)(parent & ((1 << HomeBits) - 1));
    public static long Child(long parent, int index) => (parent << ChildBits) | (uint)index;
    public static long ParentOf(long child) => child >> ChildBits;

    public static string Seller(long id) => "sel_" + id.ToString(CultureInfo.InvariantCulture);
    public static string Order(long parent) => "ord_" + parent.ToString(CultureInfo.InvariantCulture);
    public static string SellerOrder(long child) => "so_" + child.ToString(CultureInfo.InvariantCulture);

    public static bool TryParseSeller(ReadOnlySpan<char> text, out long id) => TryParse(text, "sel_", out id);
    public static bool TryParseOrder(ReadOnlySpan<char> text, out long parent) =>
        TryParse(text, "ord_", out parent) && Sequence(parent) > 0;

    private static bool TryParse(ReadOnlySpan<char> text, string prefix, out long id)
    {
        id = 0;
        return text.StartsWith(prefix, StringComparison.Ordinal)
            && long.TryParse(text[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out id) && id > 0;
    }

    /// <summary>The partition that owns a seller: a multiplicative hash of the id onto a power-of-two count.</summary>
    public static int PartitionOf(long sellerId, int partitions) =>
        partitions == 1 ? 0 : (int)(((ulong)sellerId * 0x9E37_79B9_7F4A_7C15UL) >> (64 - BitOperations.Log2((uint)partitions)));

    /// <summary>The engine's buyer id: a 64-bit hash of the API's buyer string (per-buyer limits count by it).</summary>
    public static long Buyer(string buyerId) => (long)(XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(buyerId)) & long.MaxValue);
}

/// <summary>Unguessable, stateless tracking tokens: the order id and an HMAC of it under a key kept in the data
/// directory, base64url. Nothing to store, nothing to look up; a forged or altered token fails the MAC.</summary>
public sealed class TrackingTokens(byte[] key)
{
    private const int MacBytes = 16;

    public string Issue(long parent)
    {
        Span<byte> token = stackalloc byte[8 + MacBytes];
        BinaryPrimitives.WriteInt64LittleEndian(token, parent);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(key, token[..8], mac);
        mac[..MacBytes].CopyTo(token[8..]);
        return Base64Url.EncodeToString(token);
    }

    public bool TryRead(string token, out long parent)
    {
        parent = 0;
        Span<byte> bytes = stackalloc byte[8 + MacBytes];
        if (token.Length != 32 || !Base64Url.IsValid(token) || Base64Url.DecodeFromChars(token, bytes) != bytes.Length)
        {
            return false;
        }
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(key, bytes[..8], mac);
        if (!CryptographicOperations.FixedTimeEquals(mac[..MacBytes], bytes[8..]))
        {
            return false;
        }
        parent = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        return true;
    }
}
