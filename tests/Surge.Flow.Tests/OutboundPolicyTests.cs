using System.Net;
using System.Net.Sockets;

namespace Surge.Flow.Tests;

public sealed class OutboundPolicyTests
{
    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.10.20.30", false)]
    [InlineData("::1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.16.0.1", false)]
    [InlineData("172.31.255.255", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("255.255.255.255", false)]
    [InlineData("2001:db8::1", false)]
    [InlineData("172.32.0.1", true)]
    [InlineData("100.128.0.1", true)]
    [InlineData("8.8.8.8", true)]
    [InlineData("93.184.216.34", true)]
    [InlineData("2606:4700::1111", true)]
    public void OnlyPublicAddresses_ArePublic(string address, bool expected) =>
        Assert.Equal(expected, OutboundPolicy.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://127.0.0.1:8080/hook", "loopback")]
    [InlineData("http://localhost/hook", "loopback")]
    [InlineData("http://[::1]/hook", "loopback")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "link-local")]
    [InlineData("https://10.0.0.7/hook", "private")]
    public async Task AUrlWhoseHostIsNotPublic_IsRefused_WithWhatItResolvesTo(string url, string kind)
    {
        var refusal = await new OutboundPolicy().RefusalAsync(new Uri(url), TestContext.Current.CancellationToken);

        Assert.NotNull(refusal);
        Assert.Contains(kind, refusal);
    }

    [Fact]
    public async Task AnAllowedHost_IsNotRefused_AndAPublicLiteralIsNot()
    {
        var policy = new OutboundPolicy(["127.0.0.1", "Carrier.Internal"]);

        Assert.Null(await policy.RefusalAsync(new Uri("http://127.0.0.1:9/hook"), TestContext.Current.CancellationToken));
        Assert.Null(await policy.RefusalAsync(new Uri("http://carrier.internal/shipments"), TestContext.Current.CancellationToken));
        Assert.Null(await policy.RefusalAsync(new Uri("https://8.8.8.8/"), TestContext.Current.CancellationToken));
        Assert.NotNull(await policy.RefusalAsync(new Uri("http://127.0.0.2/"), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task AConnection_ToANonPublicAddress_IsRefusedWhenMade_UnlessItsHostIsAllowed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var answering = AnswerOnceAsync(listener);
        var url = new Uri($"http://127.0.0.1:{port}/hook");

        using (var refused = new HttpClient(new OutboundPolicy().CreateHandler()))
        {
            var e = await Assert.ThrowsAsync<HttpRequestException>(() => refused.GetAsync(url, TestContext.Current.CancellationToken));
            Assert.Contains("loopback", e.Message + e.InnerException?.Message);
        }
        using var allowed = new HttpClient(new OutboundPolicy(["127.0.0.1"]).CreateHandler());
        using var answer = await allowed.GetAsync(url, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
        await answering;
    }

    /// <summary>Accepts one connection and answers its request 204 (the refused client never connects).</summary>
    private static async Task AnswerOnceAsync(TcpListener listener)
    {
        using var client = await listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken);
        var stream = client.GetStream();
        var buffer = new byte[4096];
        var read = 0;
        while (!System.Text.Encoding.ASCII.GetString(buffer, 0, read).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            read += await stream.ReadAsync(buffer.AsMemory(read), TestContext.Current.CancellationToken);
        }
        await stream.WriteAsync("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"u8.ToArray(), TestContext.Current.CancellationToken);
    }
}
