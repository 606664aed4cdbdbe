using System.Globalization;

namespace Surge.Testing;

/// <summary>
/// A throwaway PostgreSQL server: Debian's binaries, a temporary data directory, loopback only, a free port,
/// trust authentication for the postgres user. `initdb` and `pg_ctl` run as the postgres user when the
/// caller is root (PostgreSQL refuses to run as root). Stopped and deleted on dispose.
/// </summary>
public sealed class LocalPostgres : IAsyncDisposable
{
    /// <summary>Settings every instance gets (durable: fsync and synchronous commit on), before the caller's own.</summary>
    public static readonly IReadOnlyList<(string Name, string Value)> BaseSettings =
    [
        ("fsync", "on"),
        ("synchronous_commit", "on"),
        ("full_page_writes", "on"),
        ("listen_addresses", "'127.0.0.1'"),
    ];

    private readonly string _directory;
    private readonly string _bin;

    private LocalPostgres(string directory, string bin, int port) => (_directory, _bin, Port) = (directory, bin, port);

    public int Port { get; }

    /// <summary>An Npgsql connection string for the postgres database as the postgres user.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres";

    private string DataDirectory => Path.Combine(_directory, "data");

    public static async Task<LocalPostgres> StartAsync(IEnumerable<(string Name, string Value)>? settings = null)
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "pg_ctl")))
                .OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            : null;
        bin ??= Path.GetDirectoryName(LocalProcess.Find("postgresql", "/usr/local/bin/pg_ctl", "/usr/bin/pg_ctl"))!;
        var directory = Directory.CreateTempSubdirectory("surge-postgres-").FullName;
        var server = new LocalPostgres(directory, bin, LocalProcess.FreePort());
        try
        {
            if (LocalProcess.IsRoot)
            {
                LocalProcess.Run("chown", "-R", "postgres:postgres", directory);
            }
            server.AsPostgres("initdb", "-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale");
            IEnumerable<(string Name, string Value)> all = [.. BaseSettings, .. settings ?? [],
                ("port", server.Port.ToString(CultureInfo.InvariantCulture)), ("unix_socket_directories", $"'{directory}'")];
            await File.AppendAllLinesAsync(Path.Combine(server.DataDirectory, "postgresql.conf"), all.Select(s => $"{s.Name} = {s.Value}"));
            server.AsPostgres("pg_ctl", "-D", server.DataDirectory, "-l", Path.Combine(directory, "server.log"), "-w", "-t", "60", "start");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private void AsPostgres(string program, params string[] args)
    {
        var path = Path.Combine(_bin, program);
        if (LocalProcess.IsRoot)
        {
            LocalProcess.Run("runuser", ["-u", "postgres", "--", path, .. args]);
        }
        else
        {
            LocalProcess.Run(path, args);
        }
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                AsPostgres("pg_ctl", "-D", DataDirectory, "-m", "fast", "-w", "stop");
            }
        }
        finally
        {
            Directory.Delete(_directory, recursive: true);
        }
        return ValueTask.CompletedTask;
    }
}
