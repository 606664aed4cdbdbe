using System.Buffers.Binary;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Surge.Server;

/// <summary>
/// The dashboard's login sessions as signed tokens, so that a login on one silo is valid on every silo of the
/// cluster (nothing is stored to look up): expiry (Unix ms) and a random nonce, with an HMAC-SHA256 under a key
/// derived from the cluster's shared secret (the control log's, the same on every silo). A token signs out where
/// it is revoked (the cookie is deleted in the browser at once; a copy of it stays valid on other silos until it
/// expires, at most <see cref="Dashboard.SessionLifetime"/>).
/// </summary>
public sealed class SessionTokens(byte[] clusterSecret, TimeProvider clock)
{
    private const int NonceBytes = 16;
    private const int MacBytes = 16;
    private const int TokenBytes = 8 + NonceBytes + MacBytes;

    /// <summary>Revoked tokens kept at most (the soonest to expire go first).</summary>
    public const int RevokedMax = 10_000;

    private readonly byte[] _key = HMACSHA256.HashData(clusterSecret, "surge dashboard sessions v1"u8);
    private readonly ConcurrentDictionary<string, long> _revoked = new(StringComparer.Ordinal);

    /// <summary>A new token valid for <paramref name="lifetime"/>.</summary>
    public string Issue(TimeSpan lifetime)
    {
        Span<byte> token = stackalloc byte[TokenBytes];
        BinaryPrimitives.WriteInt64LittleEndian(token, (clock.GetUtcNow() + lifetime).ToUnixTimeMilliseconds());
        RandomNumberGenerator.Fill(token.Slice(8, NonceBytes));
        Sign(token[..(8 + NonceBytes)], token[(8 + NonceBytes)..]);
        return Base64Url.EncodeToString(token);
    }

    /// <summary>True for a token this cluster issued, unaltered, not expired and not revoked here.</summary>
    public bool IsValid(string? text) => Read(text) is { } expiresMs && expiresMs > clock.GetUtcNow().ToUnixTimeMilliseconds() && !_revoked.ContainsKey(text!);

    /// <summary>Signs the token out on this silo until it expires.</summary>
    public void Revoke(string? text)
    {
        if (Read(text) is not { } expiresMs)
        {
            return;
        }
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var gone in _revoked.Where(r => r.Value <= now).Select(r => r.Key).ToList())
        {
            _revoked.TryRemove(gone, out _);
        }
        while (_revoked.Count >= RevokedMax && _revoked.OrderBy(r => r.Value).FirstOrDefault() is { Key: { } soonest })
        {
            _revoked.TryRemove(soonest, out _);
        }
        _revoked[text!] = expiresMs;
    }

    /// <summary>The expiry of a well-formed token whose MAC matches; null otherwise.</summary>
    private long? Read(string? text)
    {
        if (text is null || text.Length > 64 || !Base64Url.IsValid(text, out var length) || length != TokenBytes)
        {
            return null; // (decoding throws on characters outside base64url)
        }
        Span<byte> token = stackalloc byte[TokenBytes + 2];
        if (!Base64Url.TryDecodeFromChars(text, token, out var written) || written != TokenBytes)
        {
            return null;
        }
        Span<byte> mac = stackalloc byte[MacBytes];
        Sign(token[..(8 + NonceBytes)], mac);
        return CryptographicOperations.FixedTimeEquals(mac, token.Slice(8 + NonceBytes, MacBytes))
            ? BinaryPrimitives.ReadInt64LittleEndian(token)
            : null;
    }

    private void Sign(ReadOnlySpan<byte> content, Span<byte> mac)
    {
        Span<byte> full = stackalloc byte[32];
        HMACSHA256.HashData(_key, content, full);
        full[..MacBytes].CopyTo(mac);
    }
}
