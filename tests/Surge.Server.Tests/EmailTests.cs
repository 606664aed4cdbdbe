using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Surge.Flow;

namespace Surge.Server.Tests;

/// <summary>E-mail subscriptions: order events as messages from the templates, through SMTP (MailKit).</summary>
public sealed class EmailTests
{
    /// <summary>The smallest SMTP server that takes mail (no TLS, no auth) and keeps each message's raw text.</summary>
    private sealed class SmtpSink : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();

        public SmtpSink()
        {
            _listener.Start();
            _ = Task.Run(AcceptAsync);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public List<string> Messages { get; } = [];

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                _ = Task.Run(() => ServeAsync(client));
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using (client)
            {
                var stream = client.GetStream();
                using var reader = new StreamReader(stream, Encoding.UTF8);
                await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\r\n", AutoFlush = true };
                await writer.WriteLineAsync("220 sink ready");
                while (await reader.ReadLineAsync() is { } line)
                {
                    var verb = line.Split(' ')[0].ToUpperInvariant();
                    if (verb == "DATA")
                    {
                        await writer.WriteLineAsync("354 go on");
                        var message = new StringBuilder();
                        while (await reader.ReadLineAsync() is { } data && data != ".")
                        {
                            message.AppendLine(data);
                        }
                        lock (Messages)
                        {
                            Messages.Add(message.ToString());
                        }
                        await writer.WriteLineAsync("250 kept");
                    }
                    else if (verb == "QUIT")
                    {
                        await writer.WriteLineAsync("221 bye");
                        return;
                    }
                    else
                    {
                        await writer.WriteLineAsync(verb == "EHLO" ? "250 sink" : "250 ok");
                    }
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }

    [Theory]
    [InlineData("ko", "주문 {0}: 결제가 완료되었습니다")]
    [InlineData("zh", "订单 {0}：付款成功")]
    public async Task EmailSubscription_GetsItsSellersEvents_InItsLanguage_ThroughSmtp(string language, string subject)
    {
        using var sink = new SmtpSink();
        await using var server = await TestServer.StartAsync(o => o with { Flow = o.Flow with { Smtp = new SmtpOptions("127.0.0.1", sink.Port, "orders@surge.test") } });
        var (seller, sellerId) = await server.SellerWithStockAsync("kimchi", units: 10);
        string[] paid = ["order.paid"];
        var created = await seller.PostAsync("/v1/webhooks", new { email = "owner@seller.test", language, event_types = paid });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Null(created.Json!["secret"]);
        Assert.Equal("invalid_request", (await seller.PostAsync("/v1/webhooks", new { email = "owner@seller.test", url = "http://127.0.0.1:1/", event_types = paid })).ProblemCode);
        Assert.Equal("invalid_request", (await seller.PostAsync("/v1/webhooks", new { email = "not an address", event_types = paid })).ProblemCode);

        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("e1", (sellerId, "kimchi", 1)));
        var id = placed.Json!["id"]!.GetValue<string>();
        await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { });

        var clock = Stopwatch.StartNew();
        while (sink.Messages.Count == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "no e-mail arrived");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
        var message = MimeKit.MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(sink.Messages[0])), TestContext.Current.CancellationToken);
        Assert.Equal("owner@seller.test", message.To.Mailboxes.Single().Address);
        Assert.Equal("orders@surge.test", message.From.Mailboxes.Single().Address);
        Assert.Equal(string.Format(System.Globalization.CultureInfo.InvariantCulture, subject, id), message.Subject);
        Assert.Contains(id, message.TextBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EmailSubscription_WithoutAnSmtpServer_IsRefused()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, _) = await server.SellerWithStockAsync("kimchi", units: 0);
        string[] types = ["order.paid"];
        Assert.Equal("smtp_not_configured", (await seller.PostAsync("/v1/webhooks", new { email = "owner@seller.test", event_types = types })).ProblemCode);
    }
}
