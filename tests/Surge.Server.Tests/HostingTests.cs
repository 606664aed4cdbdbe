using System.Net;
using System.Net.Sockets;
using k8s.Models;
using Surge.Journal;

namespace Surge.Server.Tests;

/// <summary>What a platform running Surge relies on: liveness and readiness, the Kubernetes manifest's probes, the
/// container build's shape, and start-up failures that end in one line and an exit code per kind.</summary>
public sealed class HostingTests
{
    [Fact]
    public async Task Healthz_IsAlive_AndReadyz_NamesEveryCheck_OnceRecovered()
    {
        await using var server = await TestServer.StartAsync();
        var anonymous = new ApiClient(server.Server.BaseAddress, null);

        var alive = await anonymous.GetAsync("/healthz");
        var ready = await anonymous.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, alive.Status);
        Assert.Equal("ready", alive.Json!["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, ready.Status);
        Assert.Equal(["recovered", "not_draining"], ready.Json!["checks"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
        Assert.All(ready.Json!["checks"]!.AsArray(), c => Assert.True(c!["ok"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task DrainingNode_IsStillAlive_ButNotReady()
    {
        await using var server = await TestServer.StartAsync();
        var anonymous = new ApiClient(server.Server.BaseAddress, null);

        await server.Server.State.Lifecycle.DrainRequestsAsync(TimeSpan.Zero);

        var alive = await anonymous.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, alive.Status);
        Assert.Equal("draining", alive.Json!["status"]!.GetValue<string>());
        var ready = await anonymous.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.Status);
        Assert.Equal("not_ready", ready.ProblemCode);
        Assert.Contains("not_draining", ready.Json!["detail"]!.GetValue<string>());
        Assert.Equal("draining", (await server.Admin.GetAsync("/v1/warehouses")).ProblemCode);
    }

    [Fact]
    public async Task UnreachableDependency_MakesTheNodeNotReady_AndSaysWhich_WhileSlowOnesTimeOut()
    {
        var reachable = true;
        await using var server = await TestServer.StartAsync(o => o with
        {
            Dependencies =
            [
                new DependencyCheck("postgresql", _ => reachable ? Task.CompletedTask : throw new SocketException((int)SocketError.ConnectionRefused)),
                new DependencyCheck("redis", token => reachable ? Task.CompletedTask : Task.Delay(Timeout.Infinite, token)),
            ],
        });
        var anonymous = new ApiClient(server.Server.BaseAddress, null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz")).Status);

        reachable = false;

        await Poll.UntilAsync(async () => (await anonymous.GetAsync("/readyz")).Status == HttpStatusCode.ServiceUnavailable, "the probes' answers were renewed");
        var ready = await anonymous.GetAsync("/readyz");
        Assert.Equal("not_ready", ready.ProblemCode);
        var detail = ready.Json!["detail"]!.GetValue<string>();
        Assert.Contains("postgresql: ", detail);
        Assert.Contains($"redis: no answer within {Readiness.ProbeTimeout.TotalSeconds:0.#} s", detail);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).Status);
    }

    [Fact]
    public async Task KubernetesManifest_ProbesRoutesTheServerAnswers_AndRunsAsNonRoot()
    {
        var manifest = await File.ReadAllTextAsync(Path.Combine(CliProcess.RepositoryRoot(), "deploy", "kubernetes", "surge.yaml"), TestContext.Current.CancellationToken);
        var objects = k8s.KubernetesYaml.LoadAllFromString(manifest);
        var silos = Assert.Single(objects.OfType<V1StatefulSet>());
        var container = Assert.Single(silos.Spec.Template.Spec.Containers);
        Assert.True(silos.Spec.Template.Spec.SecurityContext.RunAsNonRoot);
        Assert.DoesNotContain(objects, o => o is V1Secret); // credentials are created by the operator, not shipped
        foreach (var volume in objects.OfType<V1Deployment>().SelectMany(d => d.Spec.Template.Spec.Volumes ?? []).Concat(silos.Spec.Template.Spec.Volumes ?? []))
        {
            Assert.True(volume.ConfigMap is null || objects.OfType<V1ConfigMap>().Any(c => c.Metadata.Name == volume.ConfigMap.Name),
                $"volume {volume.Name} mounts ConfigMap {volume.ConfigMap?.Name}, which the manifest does not define");
        }
        await using var server = await TestServer.StartAsync();
        var anonymous = new ApiClient(server.Server.BaseAddress, null);
        foreach (var (kind, probe) in new[] { ("startup", container.StartupProbe), ("liveness", container.LivenessProbe), ("readiness", container.ReadinessProbe) })
        {
            Assert.True(probe?.HttpGet is not null, $"the silo has no HTTP {kind} probe");
            Assert.Equal("http", probe!.HttpGet.Port.Value);
            Assert.Contains(container.Ports, p => p.Name == "http");
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(probe.HttpGet.Path)).Status);
        }
        Assert.Equal("/readyz", container.ReadinessProbe.HttpGet.Path);
    }

    [Fact]
    public async Task Dockerfile_IsMultiStage_RunsAsNonRoot_AndItsContextLeavesOutBenchmarksAndTests()
    {
        var root = CliProcess.RepositoryRoot();
        var lines = (await File.ReadAllLinesAsync(Path.Combine(root, "deploy", "Dockerfile"), TestContext.Current.CancellationToken))
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var stages = lines.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("FROM ", StringComparison.Ordinal)).Select(x => x.i).ToList();
        Assert.True(stages.Count >= 2, "a build stage and a runtime stage");
        var final = lines.Skip(stages[^1]).ToList();
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:", final[0]);
        var user = Assert.Single(final, l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.DoesNotMatch(@"^USER (root|0)(:|$)", user);
        foreach (var copy in lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=", StringComparison.Ordinal)))
        {
            foreach (var source in copy.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1])
            {
                Assert.True(File.Exists(Path.Combine(root, source)) || Directory.Exists(Path.Combine(root, source)), $"{copy}: {source} is not in the repository");
            }
        }
        Assert.Contains(lines, l => l.Contains("dotnet publish src/Surge.Cli/Surge.Cli.csproj", StringComparison.Ordinal));
        var ignored = await File.ReadAllLinesAsync(Path.Combine(root, ".dockerignore"), TestContext.Current.CancellationToken);
        Assert.Subset(ignored.ToHashSet(), new HashSet<string> { "bench/", "tests/", ".git/", "**/bin/", "**/obj/" });
    }

    [Fact]
    public async Task AFlagOfTheWrongType_IsOneLine_AndExit2()
    {
        var (exit, output) = await CliProcess.RunAsync(["serve", "--port", "abc"], TimeSpan.FromMinutes(1));

        Assert.Equal(2, exit);
        Assert.DoesNotContain("Unhandled exception", output);
        Assert.DoesNotContain("   at ", output);
        Assert.Contains("surge serve: Cannot parse argument 'abc' for option '--port'", output);
        Assert.Equal(2, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // the error and where to read more
    }

    [Fact]
    public async Task PortInUse_IsOneLine_AndExit3()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var data = Path.Combine(Path.GetTempPath(), "surge-hosting-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var (exit, output) = await CliProcess.RunAsync(["serve", "--data", data, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--partitions", "1", "--no-categories"], TimeSpan.FromMinutes(1));

            AssertFailedStart(exit, output, StartupFailureCodes.Listen, $"surge serve: cannot listen on 127.0.0.1:{port}: the address is in use");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task DataDirectoryThatIsAFile_IsOneLine_AndExit4()
    {
        var file = Path.GetTempFileName();
        try
        {
            var (exit, output) = await CliProcess.RunAsync(["serve", "--data", file, "--port", "0", "--partitions", "1", "--no-categories"], TimeSpan.FromMinutes(1));

            AssertFailedStart(exit, output, StartupFailureCodes.DataDirectory, $"surge serve: the data directory {file} cannot be used");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task CorruptJournal_IsOneLine_NamingFileAndOffset_AndExit5()
    {
        var data = Path.Combine(Path.GetTempPath(), "surge-hosting-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var options = new ServerOptions { DataDirectory = data, Http = new() { Port = 0 }, Partitions = 1 };
            var server = await SurgeServer.StartAsync(options);
            var admin = new ApiClient(server.BaseAddress, server.AdminKey);
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/v1/warehouses", new { id = $"wh-{i}", region = "seoul", country = "KR" })).Status);
            }
            await server.DisposeAsync();
            // A byte inside the first record's payload, with valid records after it: damage, not a torn tail.
            var segment = Directory.GetFiles(Path.Combine(data, "partitions"), "*", SearchOption.AllDirectories)
                .Where(f => new FileInfo(f).Length > RecordFormat.SegmentHeaderBytes).OrderBy(f => f, StringComparer.Ordinal).First(IsSegmentWithRecords);
            var offset = RecordFormat.SegmentHeaderBytes + RecordFormat.RecordHeaderBytes + 2;
            await using (var stream = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite))
            {
                stream.Position = offset;
                var original = stream.ReadByte();
                stream.Position = offset;
                stream.WriteByte((byte)(original ^ 0xFF));
            }

            var (exit, output) = await CliProcess.RunAsync(["serve", "--data", data, "--port", "0", "--partitions", "1", "--no-categories"], TimeSpan.FromMinutes(2));

            AssertFailedStart(exit, output, StartupFailureCodes.CorruptJournal, "surge serve: journal corrupt in ", Path.GetFileName(segment),
                $"at byte offset {RecordFormat.SegmentHeaderBytes}");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task UnreachablePostgres_IsOneLine_AndExit6()
    {
        var data = Path.Combine(Path.GetTempPath(), "surge-hosting-tests", Guid.NewGuid().ToString("N"));
        const int port = 1; // nothing listens there (a port just freed could be taken by another test's PostgreSQL)
        try
        {
            var (exit, output) = await CliProcess.RunAsync(["serve", "--data", data, "--port", "0", "--partitions", "1", "--no-categories",
                "--journal-postgres", $"Host=127.0.0.1;Port={port};Username=surge;Database=surge;Timeout=3"], TimeSpan.FromMinutes(1));

            AssertFailedStart(exit, output, StartupFailureCodes.Dependency, "surge serve: PostgreSQL: ");
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Settings_ComeFromTheConfigFile_ThenTheEnvironment_ThenTheFlags()
    {
        var directory = Path.Combine(Path.GetTempPath(), "surge-hosting-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var (filePort, environmentPort, flagPort) = (SurgeServer.FreePort(), SurgeServer.FreePort(), SurgeServer.FreePort());
        var config = Path.Combine(directory, "surge.json");
        await File.WriteAllTextAsync(config, $$"""{ "Partitions": 1, "Http": { "Port": {{filePort}}, "RequestDeadline": "00:00:03" } }""", TestContext.Current.CancellationToken);
        try
        {
            string[] serve = ["serve", "--data", Path.Combine(directory, "data"), "--no-categories", "--config", config];
            foreach (var (args, environment, expected) in new (string[], Dictionary<string, string>, int)[]
            {
                ([], [], filePort),
                ([], new() { ["SURGE__Http__Port"] = environmentPort.ToString(System.Globalization.CultureInfo.InvariantCulture) }, environmentPort),
                (["--port", flagPort.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                    new() { ["SURGE__Http__Port"] = environmentPort.ToString(System.Globalization.CultureInfo.InvariantCulture) }, flagPort),
            })
            {
                var process = await CliProcess.StartAsync([.. serve, .. args], "surge: ready", environment);
                try
                {
                    var health = await new ApiClient(new Uri($"http://127.0.0.1:{expected}/"), null).GetAsync("/healthz");
                    Assert.Equal(HttpStatusCode.OK, health.Status);
                    Assert.Equal(1, health.Json!["partitions"]!.GetValue<int>()); // from the file in every run
                }
                finally
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync(TestContext.Current.CancellationToken);
                    process.Dispose();
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("{ \"Http\": { \"Prot\": 1 } }", "Http:Prot")]
    [InlineData("{ \"Orders\": { \"ReservationTtl\": \"soon\" } }", "Orders:ReservationTtl")]
    [InlineData("{ \"Admission\": { \"BatchCommandsMax\": 0 } }", "Admission:BatchCommandsMax")]
    [InlineData("{ \"Http\": ", "configuration")]
    public async Task ABadSetting_IsOneLineNamingIt_AndExit2(string json, string named)
    {
        var directory = Path.Combine(Path.GetTempPath(), "surge-hosting-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var config = Path.Combine(directory, "surge.json");
        await File.WriteAllTextAsync(config, json, TestContext.Current.CancellationToken);
        try
        {
            var (exit, output) = await CliProcess.RunAsync(["serve", "--data", Path.Combine(directory, "data"), "--config", config, "--no-categories"], TimeSpan.FromMinutes(1));

            Assert.Equal(2, exit);
            Assert.Contains(named, output);
            Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task EverySettingOfTheBoundOptions_IsInTheConfigurationTable()
    {
        var table = await File.ReadAllTextAsync(Path.Combine(CliProcess.RepositoryRoot(), "docs", "CONFIGURATION.md"), TestContext.Current.CancellationToken);
        IEnumerable<string> Keys(Type type, string prefix) => type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .SelectMany(p => p.PropertyType == typeof(RateLimitOptions) ? Keys(p.PropertyType, $"{prefix}{p.Name}:") : [prefix + p.Name]);

        var keys = Keys(typeof(HttpOptions), "Http:").Concat(Keys(typeof(AdmissionOptions), "Admission:")).Concat(Keys(typeof(OrderOptions), "Orders:")).ToList();

        Assert.True(keys.Count > 20);
        Assert.All(keys, key => Assert.Contains($"| `{key}` |", table));
    }

    /// <summary>The start failed with <paramref name="code"/>, saying each of <paramref name="says"/>, and no stack trace.</summary>
    private static void AssertFailedStart(int exit, string output, int code, params string[] says)
    {
        Assert.Equal(code, exit);
        foreach (var text in says)
        {
            Assert.Contains(text, output);
        }
        Assert.DoesNotContain("   at ", output);
    }

    private static bool IsSegmentWithRecords(string file)
    {
        var bytes = File.ReadAllBytes(file);
        return bytes.Length > RecordFormat.SegmentHeaderBytes + 4 * RecordFormat.RecordHeaderBytes
            && bytes.AsSpan(RecordFormat.SegmentHeaderBytes, RecordFormat.RecordHeaderBytes).ContainsAnyExcept((byte)0);
    }
}

/// <summary>The exit codes of `surge serve` the README documents (the CLI is a separate program: these are its contract,
/// written down again rather than referenced).</summary>
internal static class StartupFailureCodes
{
    public const int Listen = 3;
    public const int DataDirectory = 4;
    public const int CorruptJournal = 5;
    public const int Dependency = 6;
}
