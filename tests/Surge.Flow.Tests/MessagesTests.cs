namespace Surge.Flow.Tests;

public sealed class MessagesTests
{
    [Theory]
    [InlineData(null, "ko-KR,ko;q=0.9,en;q=0.8", "ko")]
    [InlineData(null, "en-GB,en;q=0.9,ko;q=0.5", "en")]
    [InlineData(null, "fr-FR", "en")]
    [InlineData(null, null, "en")]
    [InlineData("ko", "en-US", "ko")]
    [InlineData("de", "ko-KR", "en")]
    [InlineData(null, "zh-CN,zh;q=0.9,en;q=0.5", "zh")]
    [InlineData(null, "fr-FR,zh-Hans;q=0.8", "zh")]
    [InlineData(null, "zh-TW,zh;q=0.9", "zh")]
    [InlineData(null, "zh-TW,en;q=0.5", "en")]
    [InlineData("zh", "en-US", "zh")]
    public void Language_FollowsAnExplicitChoiceThenTheBrowser_DefaultingToEnglish(string? choice, string? accept, string expected)
    {
        Assert.Equal(expected, Messages.Language(choice, accept));
    }

    [Fact]
    public void EveryStatusHasATemplateInEveryLanguage()
    {
        var statuses = TrackingStatuses.All.Concat(["placed", "paid", "shipment_planned", "handed_to_carrier", "cancelled"]);
        foreach (var key in statuses)
        {
            foreach (var language in Messages.Languages)
            {
                var text = Messages.Render(language, key, new Dictionary<string, string?> { ["warehouse"] = "W", ["carrier"] = "C", ["tracking_number"] = "T", ["description"] = "D" });
                Assert.False(text.Contains('{', StringComparison.Ordinal) || text == key.Replace('_', ' '), $"{language}/{key}: '{text}'");
            }
        }
        Assert.Equal(3, new[] { Messages.Render("en", "delivered"), Messages.Render("ko", "delivered"), Messages.Render("zh", "delivered") }.Distinct().Count());
    }

    [Fact]
    public void Placeholders_AreFilled_AndAMissingValueFallsBackToThePlainForm()
    {
        Assert.Equal("Handed to Hanjin, tracking number 123",
            Messages.Render("en", "handed_to_carrier", new Dictionary<string, string?> { ["carrier"] = "Hanjin", ["tracking_number"] = "123" }));
        Assert.Equal("There is a problem with the delivery", Messages.Render("en", "exception"));
        Assert.Equal("배송에 문제가 생겼습니다: 파손", Messages.Render("ko", "exception", new Dictionary<string, string?> { ["description"] = "파손" }));
        Assert.Equal("已交给 顺丰速运，运单号 SF123", Messages.Render("zh", "handed_to_carrier", new Dictionary<string, string?> { ["carrier"] = "顺丰速运", ["tracking_number"] = "SF123" }));
    }
}
