using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Surge.Server;
using Surge.Testing;

namespace Surge.Server.Tests;

/// <summary>An embedded server on a free loopback port over a temporary data directory, removed at the end.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(SurgeServer server, string directory, ServerOptions options)
    {
        Server = server;
        Directory = directory;
        Options = options;
        Admin = new ApiClient(server.BaseAddress, server.AdminKey);
    }

    public SurgeServer Server { get; private set; }
    public string Directory { get; }
    public ServerOptions Options { get; }
    public ApiClient Admin { get; private set; }

    public static async Task<TestServer> StartAsync(Func<ServerOptions, ServerOptions>? configure = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "surge-server-tests", Guid.NewGuid().ToString("N"));
        var options = new ServerOptions
        {
            DataDirectory = directory, Http = new() { Port = 0 }, Partitions = 4, Storage = new() { SegmentBytesMax = 1024 * 1024 },
            // The tests' carriers and webhook receivers listen on loopback, which the server refuses unless it is allowed.
            Flow = new() { OutboundAllowedHosts = ["127.0.0.1", "localhost"] },
        };
        options = configure?.Invoke(options) ?? options;
        return new TestServer(await SurgeServer.StartAsync(options), directory, options);
    }

    /// <summary>Stops the server cleanly and starts a new one over the same directory (recovery from disk).</summary>
    public async Task RestartAsync()
    {
        await Server.DisposeAsync();
        Server = await SurgeServer.StartAsync(Options);
        Admin = new ApiClient(Server.BaseAddress, Server.AdminKey);
    }

    public ApiClient Client(string key) => new(Server.BaseAddress, key);

    /// <summary>A seller with one warehouse-stocked SKU: returns the seller's client and id.</summary>
    public async Task<(ApiClient Seller, string Id)> SellerWithStockAsync(string sku, int units, string warehouse = "wh-kr-1")
    {
        await Admin.PostAsync("/v1/warehouses", new { id = warehouse, region = "seoul", country = "KR" });
        var created = await Admin.PostAsync("/v1/sellers", new { name = "seller " + sku });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var seller = Client(created.Json!["api_key"]!.GetValue<string>());
        var upsert = await seller.PostAsync("/v1/skus", Sku(sku));
        Assert.Equal(HttpStatusCode.Created, upsert.Status);
        if (units > 0)
        {
            var receipt = await seller.PostAsync("/v1/stock/receipts", new { sku, warehouse_id = warehouse, quantity = units });
            Assert.Equal(HttpStatusCode.OK, receipt.Status);
        }
        return (seller, created.Json!["id"]!.GetValue<string>());
    }

    public static object Sku(string sku, string temperature = "ambient") =>
        new { sku, title = "Item " + sku, price_minor = 12_900, currency = "KRW", weight_g = 350, temperature, hazmat = false };

    public static object Order(string buyer, params (string Seller, string Sku, int Quantity)[] lines) => new
    {
        buyer_id = buyer,
        ship_to = new { country = "KR", region = "seoul", postal_code = "04524" },
        lines = lines.Select(l => new { seller_id = l.Seller, sku = l.Sku, quantity = l.Quantity }).ToArray(),
    };

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

public sealed record ApiResponse(HttpStatusCode Status, string Body, HttpResponseHeaders Headers, string? ContentType)
{
    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);

    /// <summary>The problem's stable code, asserting the answer is problem+json.</summary>
    public string ProblemCode
    {
        get
        {
            Assert.Equal("application/problem+json", ContentType);
            var json = Json!;
            Assert.Equal((int)Status, json["status"]!.GetValue<int>());
            Assert.Equal("/problems/" + json["code"]!.GetValue<string>(), json["type"]!.GetValue<string>());
            return json["code"]!.GetValue<string>();
        }
    }
}

public sealed class ApiClient(Uri baseAddress, string? key)
{
    public string? Key => key;
    public Uri BaseAddress => baseAddress;

    private static readonly HttpClient Http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = TimeSpan.FromSeconds(15),
    };

    public Task<ApiResponse> PostAsync(string path, object body, string? idempotencyKey = null) =>
        SendRawAsync(HttpMethod.Post, path, JsonSerializer.Serialize(body), "application/json", idempotencyKey);

    public Task<ApiResponse> GetAsync(string path) => SendRawAsync(HttpMethod.Get, path, null, null);

    /// <summary>Waits until the read model holds every durable record of the seller's partition (its listing's
    /// freshness says no record is missing): listings read right after writes see them.</summary>
    public Task ReadModelCaughtUpAsync(string sellerId) =>
        Poll.UntilAsync(async () => (await GetAsync($"/v1/sellers/{sellerId}/orders?limit=1")).Json!,
            page => page["freshness"]?["lag_records"]?.GetValue<long>() == 0, $"the read model caught up with {sellerId}'s partition");

    public Task<ApiResponse> SendRawAsync(HttpMethod method, string path, string? body, string? contentType, string? idempotencyKey = null) =>
        SendBytesAsync(method, path, body is null ? null : Encoding.UTF8.GetBytes(body), contentType, idempotencyKey);

    public async Task<ApiResponse> SendBytesAsync(HttpMethod method, string path, byte[]? body, string? contentType, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(baseAddress, path));
        request.Headers.ExpectContinue = body?.Length > 64 * 1024; // a refused large body is not sent at all
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = contentType is null ? null : MediaTypeHeaderValue.Parse(contentType);
        }
        using var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return new ApiResponse(response.StatusCode, text, response.Headers, response.Content.Headers.ContentType?.MediaType);
    }

    public async Task<long> AvailableAsync(string sku) => (await GetAsync($"/v1/skus/{sku}/stock")).Json!["available"]!.GetValue<long>();
}

/// <summary>The CLI built with the solution, run as a separate process (the test script builds everything first).</summary>
public static class CliProcess
{
    /// <summary>Starts `surge ARGS` and waits (at most <paramref name="patience"/>, a minute unless given) for
    /// <paramref name="readyLine"/> on its stdout. Every line it prints goes to <paramref name="onLine"/>; its output is
    /// shown if it never gets ready.</summary>
    public static async Task<Process> StartAsync(IEnumerable<string> args, string readyLine, IReadOnlyDictionary<string, string>? environment = null,
        Action<string>? onLine = null, TimeSpan? patience = null)
    {
        var start = Start(args);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start)!;
        var ready = new TaskCompletionSource();
        var output = new System.Text.StringBuilder();
        void Line(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (output)
            {
                output.AppendLine(line);
            }
            onLine?.Invoke(line);
            if (line == readyLine)
            {
                ready.TrySetResult();
            }
        }
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var finished = await Task.WhenAny(ready.Task, process.WaitForExitAsync(TestContext.Current.CancellationToken),
            Task.Delay(patience ?? TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
        if (finished != ready.Task)
        {
            process.Kill(entireProcessTree: true);
            lock (output)
            {
                var text = output.ToString();
                if (LocalProcess.SaysPortTaken(text))
                {
                    throw new PortTakenException($"surge {string.Join(' ', args)}: its port was taken:\n{text}");
                }
                Assert.Fail($"surge {string.Join(' ', args)} did not print '{readyLine}':\n{text}");
            }
        }
        return process;
    }

    /// <summary>Starts `surge ARGS(port)` listening on a port picked free, tried again on another when it was taken
    /// meanwhile (<see cref="LocalProcess.OnFreePortAsync"/>).</summary>
    public static Task<(Process Process, int Port)> StartOnFreePortAsync(Func<int, IEnumerable<string>> args, string readyLine) =>
        LocalProcess.OnFreePortAsync(port => StartAsync(args(port), readyLine));

    /// <summary>Runs `surge ARGS` to its end (at most <paramref name="timeout"/>); returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(IEnumerable<string> args, TimeSpan timeout)
    {
        var start = Start(args);
        start.Environment["COLUMNS"] = "200";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"surge {string.Join(' ', args)} did not finish in {timeout.TotalSeconds} s:\n{await output}{await error}");
        }
        return (process.ExitCode, await output + await error);
    }

    /// <summary>The repository root (where Surge.slnx is).</summary>
    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Surge.slnx")))
        {
            directory = directory.Parent;
        }
        Assert.NotNull(directory);
        return directory.FullName;
    }

    /// <summary>`dotnet PROGRAM.dll ARGS` as the `./surge` script runs it: `bench …` and `carrier-sim …` are programs of
    /// their own (not in the server's artifact), everything else is the CLI.</summary>
    private static ProcessStartInfo Start(IEnumerable<string> args)
    {
        var list = args.ToList();
        var (program, rest) = list.FirstOrDefault() switch
        {
            "bench" => (FindProgram(Path.Combine("bench", "Surge.Bench"), "surge-bench.dll"), list.Skip(1)),
            "carrier-sim" => (FindProgram(Path.Combine("tools", "Surge.CarrierSim"), "surge-carrier-sim.dll"), list.Skip(1)),
            _ => (FindCli(), list),
        };
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(program);
        foreach (var arg in rest)
        {
            start.ArgumentList.Add(arg);
        }
        return start;
    }

    public static string FindCli() => FindProgram(Path.Combine("src", "Surge.Cli"), "surge.dll");

    private static string FindProgram(string project, string assembly)
    {
        var configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        var path = Path.Combine(RepositoryRoot(), project, "bin", configuration, "net10.0", assembly);
        Assert.True(File.Exists(path), $"{path} is missing: build the solution first");
        return path;
    }
}

/// <summary>Waits for a condition by polling with a deadline (never a fixed sleep).</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<Task<bool>> done, string what, int seconds = 20)
    {
        var clock = Stopwatch.StartNew();
        while (!await done())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(seconds), $"timed out waiting until {what}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Fetches until <paramref name="done"/> holds and returns that value; a timeout shows the last one.</summary>
    public static async Task<JsonNode> UntilAsync(Func<Task<JsonNode>> fetch, Func<JsonNode, bool> done, string what, int seconds = 20)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await fetch();
            if (done(value))
            {
                return value;
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(seconds), $"timed out waiting until {what}; last: {value.ToJsonString()}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}

/// <summary>Where a cluster's partitions live, as each silo reads it out on /metrics (<c>surge_partition_hosted</c>).</summary>
public static class PartitionSpread
{
    /// <summary>How long the partitions may take to reach their silos (each stays 5 s where it was activated before
    /// it moves; a move is a recovery from PostgreSQL).</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>The partitions a silo says it hosts.</summary>
    public static async Task<int[]> HostedAsync(ApiClient silo) =>
        Surge.Autoscale.Actuators.SiloSignals.HostedPartitions((await silo.GetAsync("/metrics")).Body);

    /// <summary>Waits until every partition is hosted by exactly one of <paramref name="silos"/> and each of them
    /// hosts its share (8 partitions: 2 or 3 each on 3 silos, 4 each on 2).</summary>
    public static async Task WaitAsync(IReadOnlyList<ApiClient> silos, int partitions)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var hosted = new List<int[]>();
            foreach (var silo in silos)
            {
                hosted.Add(await HostedAsync(silo));
            }
            if (Surge.Autoscale.Actuators.SiloSignals.Spread(hosted, partitions))
            {
                return;
            }
            Assert.True(clock.Elapsed < Bound, $"the partitions did not spread over {silos.Count} silos within {Bound}; hosted: "
                + string.Join(" | ", hosted.Select(h => string.Join(",", h))));
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }
}

/// <summary>Tests that run a cluster of `surge serve` processes (with PostgreSQL and Redis) take turns: two such
/// clusters at once on a 2-core machine measure the machine, not failover or moving partitions.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterProcesses
{
    public const string Name = "cluster processes";
}
