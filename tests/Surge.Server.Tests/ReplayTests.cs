using System.Text.Json.Nodes;

namespace Surge.Server.Tests;

/// <summary>`surge replay` against a running server: every well-formed invoice becomes one order, malformed rows
/// are counted and skipped, and a missing server or key is a clear error.</summary>
public sealed class ReplayTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("surge-replay-tests-").FullName;

    [Fact]
    public async Task History_IsReplayed_OneOrderPerInvoice_MalformedRowsCounted()
    {
        await using var server = await TestServer.StartAsync();
        var csv = Path.Combine(_directory, "history.csv");
        File.WriteAllLines(csv,
        [
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
            "500001,A1,RED MUG,6,2011-01-03T09:00:00,2.50,100,United Kingdom",
            "500001,B2,BLUE PLATE,2,2011-01-03T09:00:00,4.00,100,United Kingdom",
            "500002,A1,RED MUG,1,2011-01-03T09:30:00,2.50,101,France",
            "this row is broken",
            "500003,B2,BLUE PLATE,many,2011-01-03T10:00:00,4.00,102,Germany",
            "C500004,A1,RED MUG,-1,2011-01-03T10:15:00,2.50,100,United Kingdom",
            "500005,C3,\"GREEN VASE, LARGE\",3,2011-01-03T11:00:00,9.99,,EIRE",
        ]);
        var json = Path.Combine(_directory, "replay.json");

        var (exit, output) = await CliProcess.RunAsync(["replay", "--data", csv, "--speed", "100000", "--url", server.Server.BaseAddress.ToString(),
            "--admin-key", server.Server.AdminKey, "--json", json], TimeSpan.FromMinutes(2));

        Assert.True(exit == 0, output);
        var result = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(2, result["malformed_rows"]!.GetValue<long>()); // the broken row and the non-numeric quantity
        Assert.Equal(3, result["invoices"]!.GetValue<int>()); // 500001, 500002, 500005 (the cancellation is not an order)
        Assert.Equal(3, result["accepted"]!.GetValue<long>());
        Assert.Equal(0, result["failed"]!.GetValue<long>());
    }

    [Fact]
    public async Task NoServerOrNoKey_IsAClearError()
    {
        var csv = Path.Combine(_directory, "one.csv");
        File.WriteAllLines(csv, ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
            "1,A1,MUG,1,2011-01-03T09:00:00,2.50,100,United Kingdom"]);

        var (exit, output) = await CliProcess.RunAsync(["replay", "--data", csv, "--speed", "10", "--url", "http://127.0.0.1:9/", "--admin-key", "ak_x"],
            TimeSpan.FromMinutes(1));
        Assert.Equal(2, exit);
        Assert.Contains("no server at http://127.0.0.1:9/", output);

        (exit, output) = await CliProcess.RunAsync(["replay", "--data", csv, "--speed", "0"], TimeSpan.FromMinutes(1));
        Assert.NotEqual(0, exit);
        Assert.Contains("--speed must be greater than 0", output);

        (exit, output) = await CliProcess.RunAsync(["replay", "--data", Path.Combine(_directory, "missing.csv"), "--speed", "10", "--admin-key", "ak_x"],
            TimeSpan.FromMinutes(1));
        Assert.Equal(2, exit);
        Assert.Contains("missing.csv", output);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
