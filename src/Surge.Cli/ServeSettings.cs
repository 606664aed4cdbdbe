using Microsoft.Extensions.Configuration;
using Surge.Server;

namespace Surge.Cli;

/// <summary>
/// The settings of <c>surge serve</c> from configuration: <c>appsettings.json</c> in the working directory (if there is
/// one), the file given with <c>--config</c>, then environment variables <c>SURGE__Section__Name</c> (each later source
/// wins; the command line's flags win over all of them). Bound with unknown keys refused, so a misspelt setting is an
/// error rather than silently ignored. Secrets (the admin key, the PostgreSQL connection string, the SMTP password) can
/// come from files instead (<c>…File</c>: a mounted secret), so they need not be on a command line `ps` shows. Every
/// setting is in docs/CONFIGURATION.md; a test keeps that table and this class in step.
/// </summary>
public sealed class ServeSettings
{
    public const string EnvironmentPrefix = "SURGE__";

    /// <summary>Data directory (journals, snapshots, keys; `--data`).</summary>
    public string? Data { get; set; }

    /// <summary>Partitions, a power of two (`--partitions`).</summary>
    public int? Partitions { get; set; }

    /// <summary>The admin key (else SURGE_ADMIN_KEY, else generated at the first start).</summary>
    public string? AdminKey { get; set; }

    /// <summary>A file holding the admin key.</summary>
    public string? AdminKeyFile { get; set; }

    /// <summary>Fulfillment rules file (`--fulfillment`).</summary>
    public string? Fulfillment { get; set; }

    public HttpOptions Http { get; set; } = new();

    public AdmissionOptions Admission { get; set; } = new();

    public OrderOptions Orders { get; set; } = new();

    public StorageSettings Storage { get; set; } = new();

    public FlowSettings Flow { get; set; } = new();

    public ClusterSettings Cluster { get; set; } = new();

    public TelemetrySettings Telemetry { get; set; } = new();

    public sealed class TelemetrySettings
    {
        /// <summary>OTLP collector for traces and metrics (`--otlp-endpoint`).</summary>
        public string? OtlpEndpoint { get; set; }

        public string? ServiceName { get; set; }

        /// <summary>Logs as JSON lines (`--json-logs`).</summary>
        public bool? JsonLogs { get; set; }
    }

    public sealed class StorageSettings
    {
        /// <summary>Journal segment size per partition, bytes.</summary>
        public long? SegmentBytesMax { get; set; }

        /// <summary>Journal bytes per partition between snapshots.</summary>
        public long? SnapshotEveryBytes { get; set; }

        /// <summary>Keep the read model (listings, histories, sales).</summary>
        public bool? ReadModel { get; set; }

        /// <summary>PostgreSQL connection string for journals, control data and read model (`--journal-postgres`).</summary>
        public string? Postgres { get; set; }

        /// <summary>A file holding that connection string.</summary>
        public string? PostgresFile { get; set; }
    }

    public sealed class FlowSettings
    {
        /// <summary>Hosts webhooks and carriers may be at inside the network (`--allow-outbound-host`).</summary>
        public string[]? OutboundAllowedHosts { get; set; }

        public SmtpSettings? Smtp { get; set; }
    }

    public sealed class SmtpSettings
    {
        public string? Host { get; set; }

        public int Port { get; set; } = 25;

        public string From { get; set; } = "surge@localhost";

        public string? User { get; set; }

        public string? Password { get; set; }

        /// <summary>A file holding the SMTP password.</summary>
        public string? PasswordFile { get; set; }
    }

    public sealed class ClusterSettings
    {
        /// <summary>Redis of the cluster's membership (`--cluster-redis`).</summary>
        public string? Redis { get; set; }

        public string? Id { get; set; }

        public string? AdvertisedAddress { get; set; }

        public int? SiloPort { get; set; }

        public TimeSpan? ProbeTimeout { get; set; }

        public int? MissedProbesLimit { get; set; }

        public int? VotesForDeath { get; set; }

        public TimeSpan? TableRefresh { get; set; }

        public TimeSpan? PlacementCheck { get; set; }

        public TimeSpan? PlacementResidenceMin { get; set; }
    }

    /// <summary>Reads the settings. A setting that is misspelt or of the wrong type, or a file that cannot be read, is an
    /// <see cref="ArgumentException"/> naming it (`surge serve` turns it into one line and exit 2).</summary>
    public static ServeSettings Load(string? file, IDictionary<string, string?>? environment = null)
    {
        var builder = new ConfigurationBuilder().SetBasePath(Directory.GetCurrentDirectory()).AddJsonFile("appsettings.json", optional: true);
        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new ArgumentException($"--config: no file at {Path.GetFullPath(file)}");
            }
            builder.AddJsonFile(Path.GetFullPath(file), optional: false);
        }
        if (environment is null)
        {
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        }
        else
        {
            builder.AddInMemoryCollection(environment.Where(e => e.Key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
                .Select(e => KeyValuePair.Create(e.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), e.Value)));
        }
        IConfiguration configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            throw new ArgumentException($"configuration: {e.Message}{(e.InnerException is { } inner ? " " + inner.Message : "")}");
        }
        var known = Settings(typeof(ServeSettings), "").ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            // A key with a value must be a setting (or an item of a list setting); a section without one must lead to some.
            var setting = System.Text.RegularExpressions.Regex.Replace(key, @":\d+$", "");
            if (value is not null ? !known.Contains(setting) : !known.Any(k => k.StartsWith(key + ":", StringComparison.OrdinalIgnoreCase) || k.Equals(key, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ArgumentException($"configuration: unknown setting {key} (docs/CONFIGURATION.md lists them)");
            }
        }
        var settings = new ServeSettings();
        try
        {
            configuration.Bind(settings, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException($"configuration: {e.Message}{(e.InnerException is { } inner ? " (" + inner.Message + ")" : "")}");
        }
        return settings;
    }

    /// <summary>Every setting's key (Section:Name), from the settings' types.</summary>
    public static IEnumerable<string> Settings(Type type, string prefix) =>
        type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance).Where(p => p.CanWrite)
            .SelectMany(p => IsSection(p.PropertyType) ? Settings(p.PropertyType, $"{prefix}{p.Name}:") : [prefix + p.Name]);

    private static bool IsSection(Type type) =>
        type.IsClass && type != typeof(string) && !type.IsArray && type.Namespace is "Surge.Cli" or "Surge.Server";

    /// <summary>A secret given directly or as a file holding it (trailing white space trimmed); null if neither.</summary>
    public static string? Secret(string? value, string? file, string name)
    {
        if (file is null)
        {
            return value;
        }
        try
        {
            return File.ReadAllText(file).TrimEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"configuration: {name}: {e.Message}");
        }
    }
}
