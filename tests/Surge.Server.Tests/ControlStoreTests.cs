using Surge.Application;
using Surge.Journal;

namespace Surge.Server.Tests;

/// <summary>The control store over a log other nodes write too (a cluster's): subscriptions are read as of a time.</summary>
public sealed class ControlStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("surge-control-").FullName;

    [Fact]
    public async Task SubscriptionsAsOf_OnAFreshlyOpenedSharedLog_AnswersAtOnce()
    {
        var path = Path.Combine(_directory, "control.jsonl");
        using var writer = ControlStore.OpenShared(new FileControlLog(path));
        var created = writer.CreateSubscription(new Principal(Role.Admin, 0), "https://example.test/hooks", null, "en", ["order.paid"]);
        using var reader = ControlStore.OpenShared(new FileControlLog(path));

        // The first call on a node that never re-read its log (a silo just started): it re-reads at once. It used to
        // compute its wait from "never" and overflow, which stopped the fulfillment stage that asked.
        var seen = await reader.SubscriptionsAsOfAsync(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Contains(seen, s => s.Id == created.Id);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
