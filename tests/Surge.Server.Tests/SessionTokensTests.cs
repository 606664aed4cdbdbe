using Microsoft.Extensions.Time.Testing;

namespace Surge.Server.Tests;

/// <summary>Dashboard sessions as signed tokens: what one silo issues, every silo of the cluster (same shared secret)
/// accepts, until it expires; nothing altered or signed under another secret is accepted.</summary>
public sealed class SessionTokensTests
{
    private static readonly byte[] ClusterSecret = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    [Fact]
    public void ATokenIssuedByOneSilo_IsValidOnAnother_UntilItExpires()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 11, 0, 0, 0, TimeSpan.Zero));
        var first = new SessionTokens(ClusterSecret, clock);
        var second = new SessionTokens([.. ClusterSecret], clock);

        var token = first.Issue(TimeSpan.FromHours(12));
        Assert.True(second.IsValid(token));
        clock.Advance(TimeSpan.FromHours(12));
        Assert.False(second.IsValid(token));
    }

    [Fact]
    public void AlteredForeignOrMalformedTokens_AreRefused_AndARevokedOneSignsOutWhereRevoked()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 11, 0, 0, 0, TimeSpan.Zero));
        var tokens = new SessionTokens(ClusterSecret, clock);
        var token = tokens.Issue(TimeSpan.FromHours(1));

        var altered = (token[0] == 'A' ? "B" : "A") + token[1..]; // the expiry changed: the MAC no longer matches
        Assert.False(tokens.IsValid(altered));
        Assert.False(new SessionTokens([.. ClusterSecret.Reverse()], clock).IsValid(token));
        Assert.False(tokens.IsValid(null));
        Assert.False(tokens.IsValid(""));
        Assert.False(tokens.IsValid("not base64url!"));
        Assert.False(tokens.IsValid(new string('A', 500)));

        tokens.Revoke(token);
        Assert.False(tokens.IsValid(token));
        Assert.True(tokens.IsValid(tokens.Issue(TimeSpan.FromHours(1))));
    }
}
