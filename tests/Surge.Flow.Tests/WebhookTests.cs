using System.Security.Cryptography;
using System.Text;

namespace Surge.Flow.Tests;

public sealed class WebhookTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_767_225_600);
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"hello":"carrier"}""");

    [Fact]
    public void Signature_IsTheBase64HmacOfIdTimestampAndBody_Prefixed_v1()
    {
        var signature = StandardWebhooks.Sign(Key, "msg_1", Now.ToUnixTimeSeconds(), Body);

        var expected = HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes($"msg_1.{Now.ToUnixTimeSeconds()}.{Encoding.UTF8.GetString(Body)}"));
        Assert.Equal("v1," + Convert.ToBase64String(expected), signature);
        Assert.Equal(WebhookVerdict.Valid, StandardWebhooks.Verify(Key, "msg_1", $"{Now.ToUnixTimeSeconds()}", signature, Body, Now));
    }

    [Fact]
    public void Verify_RefusesWrongSignatures_TamperedBodies_OtherIds_AndMissingHeaders()
    {
        var ts = $"{Now.ToUnixTimeSeconds()}";
        var signature = StandardWebhooks.Sign(Key, "msg_1", Now.ToUnixTimeSeconds(), Body);

        Assert.Equal(WebhookVerdict.BadSignature, StandardWebhooks.Verify(Key, "msg_2", ts, signature, Body, Now));
        Assert.Equal(WebhookVerdict.BadSignature, StandardWebhooks.Verify(Key, "msg_1", ts, signature, [.. Body, (byte)' '], Now));
        Assert.Equal(WebhookVerdict.BadSignature, StandardWebhooks.Verify(RandomNumberGenerator.GetBytes(32), "msg_1", ts, signature, Body, Now));
        Assert.Equal(WebhookVerdict.BadSignature, StandardWebhooks.Verify(Key, "msg_1", ts, "v1,not-base64!", Body, Now));
        Assert.Equal(WebhookVerdict.MissingHeaders, StandardWebhooks.Verify(Key, "msg_1", null, signature, Body, Now));
        Assert.Equal(WebhookVerdict.BadTimestamp, StandardWebhooks.Verify(Key, "msg_1", "yesterday", signature, Body, Now));
    }

    [Fact]
    public void Verify_AcceptsAnyOneOfSeveralSignatures()
    {
        var good = StandardWebhooks.Sign(Key, "msg_1", Now.ToUnixTimeSeconds(), Body);
        var other = StandardWebhooks.Sign(RandomNumberGenerator.GetBytes(32), "msg_1", Now.ToUnixTimeSeconds(), Body);
        Assert.Equal(WebhookVerdict.Valid, StandardWebhooks.Verify(Key, "msg_1", $"{Now.ToUnixTimeSeconds()}", $"{other} v2,xyz {good}", Body, Now));
    }

    [Theory]
    [InlineData(-301, WebhookVerdict.TimestampOutOfTolerance)]
    [InlineData(-300, WebhookVerdict.Valid)]
    [InlineData(300, WebhookVerdict.Valid)]
    [InlineData(301, WebhookVerdict.TimestampOutOfTolerance)]
    public void Verify_AllowsFiveMinutesOfClockDifference_EitherWay(int offsetSeconds, WebhookVerdict expected)
    {
        var sent = Now.ToUnixTimeSeconds() + offsetSeconds;
        var signature = StandardWebhooks.Sign(Key, "msg_1", sent, Body);
        Assert.Equal(expected, StandardWebhooks.Verify(Key, "msg_1", $"{sent}", signature, Body, Now));
    }

    [Fact]
    public void ReplayGuard_RefusesARepeatedId_AndForgetsItOnceTheTimestampCheckWouldRefuseIt()
    {
        var guard = new ReplayGuard();
        Assert.True(Record(guard, "msg_1", Now));
        Assert.False(Record(guard, "msg_1", Now.AddMinutes(9)));
        Assert.True(Record(guard, "msg_2", Now.AddMinutes(9)));
        Assert.True(Record(guard, "msg_1", Now.AddMinutes(11)));
    }

    [Fact]
    public void ReplayGuard_TakesARetryOfARequestThatFailed_OnceItIsReleased()
    {
        var guard = new ReplayGuard();
        Assert.Equal(ReplayVerdict.First, guard.Begin("evt_1", Now));
        guard.Release("evt_1"); // storing its events failed
        Assert.True(Record(guard, "evt_1", Now.AddSeconds(2)));
        Assert.False(Record(guard, "evt_1", Now.AddSeconds(3)));
    }

    [Fact]
    public void ReplayGuard_SaysInProgress_NotReplayed_WhileTheFirstRequestMayStillFail()
    {
        var guard = new ReplayGuard();
        Assert.Equal(ReplayVerdict.First, guard.Begin("evt_1", Now));
        Assert.Equal(ReplayVerdict.InProgress, guard.Begin("evt_1", Now.AddSeconds(3))); // the sender timed out and retried
        guard.Complete("evt_1");
        Assert.Equal(ReplayVerdict.Replayed, guard.Begin("evt_1", Now.AddSeconds(4)));
    }

    /// <summary>Offers an id and completes it when it was first: true for a first, false for a repeat.</summary>
    private static bool Record(ReplayGuard guard, string id, DateTimeOffset now)
    {
        var first = guard.Begin(id, now) == ReplayVerdict.First;
        if (first)
        {
            guard.Complete(id);
        }
        return first;
    }

    [Fact]
    public void ReplayGuard_IsBounded_ForgettingTheOldestFirst()
    {
        var guard = new ReplayGuard(entriesMax: 2);
        Assert.True(Record(guard, "a", Now));
        Assert.True(Record(guard, "b", Now));
        Assert.True(Record(guard, "c", Now));
        Assert.True(Record(guard, "a", Now));
        Assert.False(Record(guard, "c", Now));
    }

    [Theory]
    [InlineData("whsec_c3VyZ2UtZXhhbXBsZS1zZWNyZXQtbm90LWZvci1wcm9k", true)]
    [InlineData("c3VyZ2UtZXhhbXBsZS1zZWNyZXQtbm90LWZvci1wcm9k", false)]
    [InlineData("whsec_c2hvcnQ=", false)]
    [InlineData("whsec_!!!", false)]
    public void Secrets_AreWhsecPrefixedBase64OfAtLeast24Bytes(string secret, bool valid)
    {
        Assert.Equal(valid, WebhookSecret.TryParse(secret, out var key));
        Assert.Equal(valid, key.Length >= WebhookSecret.KeyBytesMin);
    }

    [Fact]
    public void ManifestDeliveryId_DependsOnlyOnTheSetOfShipments()
    {
        Assert.Equal(CarrierDispatcher.DeliveryId(["shp_1_0", "shp_2_0"]), CarrierDispatcher.DeliveryId(["shp_2_0", "shp_1_0"]));
        Assert.NotEqual(CarrierDispatcher.DeliveryId(["shp_1_0"]), CarrierDispatcher.DeliveryId(["shp_1_0", "shp_2_0"]));
    }
}
