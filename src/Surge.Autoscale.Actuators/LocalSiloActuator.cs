using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Surge.Autoscale.Actuators;

/// <summary>How the local actuator starts a silo: `surge serve` in cluster mode, each with its own port and data
/// directory under <see cref="DataRoot"/>.</summary>
public sealed record LocalSiloOptions
{
    /// <summary>The program and the arguments before `serve` (e.g. <c>dotnet</c>, <c>[path/surge.dll]</c>).</summary>
    public required string Executable { get; init; }
    public IReadOnlyList<string> ExecutableArguments { get; init; } = [];

    public required string DataRoot { get; init; }

    /// <summary>Redis address of the cluster's membership (HOST:PORT).</summary>
    public required string Redis { get; init; }

    /// <summary>Npgsql connection string of the journals and control data.</summary>
    public required string Postgres { get; init; }

    public string ClusterId { get; init; } = "surge";
    public int Partitions { get; init; } = 16;

    /// <summary>Orders per second each silo takes (`serve --capacity`; 0 = no cap).</summary>
    public int CapacityOrdersPerSecond { get; init; }

    /// <summary>More `serve` arguments for every silo (e.g. <c>--no-categories</c>).</summary>
    public IReadOnlyList<string> ServeArguments { get; init; } = [];

    /// <summary>The admin key every silo accepts (SURGE_ADMIN_KEY).</summary>
    public required string AdminKey { get; init; }

    /// <summary>Longest a silo may take to print that it is ready; then it is killed and counted as failed.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Longest a drained silo may take to leave after SIGTERM; then it is killed.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Also write each silo's output to <c>silo-N.log</c> in <see cref="DataRoot"/> (to follow a failure up).</summary>
    public bool KeepLogs { get; init; }

    /// <summary>Time between taking a silo out of the load balancer's view and telling it to stop, for requests
    /// already on their way to reach it.</summary>
    public TimeSpan DrainQuiesce { get; init; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>One `surge serve` process started by the local actuator.</summary>
public sealed class LocalSilo
{
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();

    internal LocalSilo(int number, Process process, Uri api, TimeProvider clock)
    {
        (Number, _process, Api, StartedAt) = (number, process, api, clock.GetUtcNow());
    }

    public int Number { get; }
    public Uri Api { get; }
    public int ProcessId => _process.Id;
    public DateTimeOffset StartedAt { get; }
    public DateTimeOffset? ReadyAt { get; internal set; }
    public DateTimeOffset? ExitedAt { get; internal set; }
    public bool Draining { get; internal set; }

    /// <summary>Killed on purpose (<see cref="LocalSiloActuator.KillAsync"/>): its exit is not a failure.</summary>
    public bool Killed { get; internal set; }

    public bool Serving => ReadyAt is not null && !Draining && !Killed && ExitedAt is null;

    /// <summary>The exit code once the process has left (0 after a clean drain).</summary>
    public int? ExitCode => ExitedAt is null ? null : _process.ExitCode;
    internal Process Process => _process;
    internal TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The silo's last lines of output (for errors).</summary>
    public string Output
    {
        get
        {
            lock (_lastLines)
            {
                return string.Join('\n', _lastLines);
            }
        }
    }

    internal void Line(string line)
    {
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            while (_lastLines.Count > 40)
            {
                _lastLines.Dequeue();
            }
        }
    }
}

/// <summary>
/// Runs silos as `surge serve --cluster-redis … --journal-postgres …` processes on this machine (the tested
/// actuator; also how one machine emulates a cluster of small ones with <see cref="LocalSiloOptions.CapacityOrdersPerSecond"/>).
/// Scale-in drains the newest silo: out of <see cref="Serving"/> first (the load balancer's view), then SIGTERM,
/// which makes `surge serve` refuse new requests, answer those in flight and leave the cluster.
/// </summary>
public sealed class LocalSiloActuator(LocalSiloOptions options, TimeProvider? clock = null) : ISiloActuator
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly List<LocalSilo> _silos = [];
    private readonly List<Task> _background = [];
    private int _started;

    /// <summary>Every silo this actuator started, in order, including those that left.</summary>
    public IReadOnlyList<LocalSilo> Silos
    {
        get
        {
            lock (_gate)
            {
                return _silos.ToArray();
            }
        }
    }

    /// <summary>API addresses of the silos that serve now: what a load balancer would send requests to.</summary>
    public IReadOnlyList<Uri> Serving => Silos.Where(s => s.Serving).Select(s => s.Api).ToArray();

    public int Target => Silos.Count(Meant);

    /// <summary>A silo meant to be up: not draining, not killed, not gone.</summary>
    private static bool Meant(LocalSilo s) => !s.Draining && !s.Killed && s.ExitedAt is null;

    /// <summary>Silos that failed to start or died without being drained.</summary>
    public int Failures { get; private set; }

    /// <summary>Silo-seconds used so far: each process from its start to its exit (or now).</summary>
    public double SiloSeconds
    {
        get
        {
            var now = _clock.GetUtcNow();
            return Silos.Sum(s => ((s.ExitedAt ?? now) - s.StartedAt).TotalSeconds);
        }
    }

    public async Task ScaleAsync(int silos, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(silos);
        var target = Target;
        for (var i = target; i < silos; i++)
        {
            Start();
        }
        for (var i = silos; i < target; i++)
        {
            var newest = Silos.LastOrDefault(Meant);
            if (newest is null)
            {
                break;
            }
            Track(DrainAsync(newest));
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>Waits until every silo asked for serves (or <paramref name="timeout"/> passes).</summary>
    public async Task<bool> WaitServingAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var starting = Silos.Where(Meant).Select(s => s.Ready.Task).ToArray();
        var all = Task.WhenAll(starting);
        return await Task.WhenAny(all, Task.Delay(timeout, _clock, cancellationToken)).ConfigureAwait(false) == all && all.IsCompletedSuccessfully;
    }

    private void Start()
    {
        var number = Interlocked.Increment(ref _started);
        var port = FreePort();
        var start = new ProcessStartInfo(options.Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in options.ExecutableArguments.Concat([
            "serve", "--data", Path.Combine(options.DataRoot, $"silo-{number}"), "--port", port.ToString(CultureInfo.InvariantCulture),
            "--partitions", options.Partitions.ToString(CultureInfo.InvariantCulture), "--cluster-redis", options.Redis, "--cluster-id", options.ClusterId,
            "--journal-postgres", options.Postgres, "--capacity", options.CapacityOrdersPerSecond.ToString(CultureInfo.InvariantCulture),
            .. options.ServeArguments]))
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["SURGE_ADMIN_KEY"] = options.AdminKey;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {options.Executable}");
        var silo = new LocalSilo(number, process, new Uri($"http://127.0.0.1:{port}"), _clock);
        var log = options.KeepLogs ? Path.Combine(Directory.CreateDirectory(options.DataRoot).FullName, $"silo-{number}.log") : null;
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }
            silo.Line(line);
            if (log is not null)
            {
                lock (silo)
                {
                    File.AppendAllText(log, $"{_clock.GetUtcNow():HH:mm:ss.fff} {line}\n");
                }
            }
            if (line == "surge: ready" && silo.ReadyAt is null)
            {
                silo.ReadyAt = _clock.GetUtcNow();
                silo.Ready.TrySetResult();
            }
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_gate)
        {
            _silos.Add(silo);
        }
        Track(WatchAsync(silo));
    }

    /// <summary>Records the silo's exit; one that does not get ready in time, or dies undrained, is a failure.</summary>
    private async Task WatchAsync(LocalSilo silo)
    {
        var exited = silo.Process.WaitForExitAsync();
        if (await Task.WhenAny(silo.Ready.Task, exited, Task.Delay(options.StartTimeout, _clock)).ConfigureAwait(false) is var first
            && first != silo.Ready.Task && first != exited)
        {
            silo.Process.Kill(entireProcessTree: true);
        }
        await exited.ConfigureAwait(false);
        silo.ExitedAt ??= _clock.GetUtcNow();
        if (!silo.Draining && !silo.Killed)
        {
            Failures++;
            silo.Ready.TrySetException(new InvalidOperationException($"silo {silo.Number} exited (code {silo.Process.ExitCode}):\n{silo.Output}"));
        }
    }

    /// <summary>Drains one silo (scale-in picks the newest; this picks any): out of <see cref="Serving"/> at once, SIGTERM
    /// after <see cref="LocalSiloOptions.DrainQuiesce"/>; completes when the process has left.</summary>
    public async Task DrainAsync(LocalSilo silo)
    {
        silo.Draining = true;
        await Task.Delay(options.DrainQuiesce, _clock).ConfigureAwait(false);
        if (silo.Process.HasExited)
        {
            return;
        }
        Signal(silo, "TERM");
        var exited = silo.Process.WaitForExitAsync();
        if (await Task.WhenAny(exited, Task.Delay(options.DrainTimeout, _clock)).ConfigureAwait(false) != exited)
        {
            silo.Process.Kill(entireProcessTree: true);
        }
        await exited.ConfigureAwait(false);
        silo.ExitedAt ??= _clock.GetUtcNow();
    }

    /// <summary>Kills one silo with SIGKILL (a machine lost, for failover measurements); completes when the process has
    /// gone. It leaves <see cref="Serving"/> at once; its exit is not counted a failure.</summary>
    public async Task KillAsync(LocalSilo silo)
    {
        silo.Killed = true;
        Signal(silo, "KILL");
        await silo.Process.WaitForExitAsync().ConfigureAwait(false);
        silo.ExitedAt ??= _clock.GetUtcNow();
    }

    /// <summary>Sends a POSIX signal (TERM to drain; the tests also use KILL, STOP and CONT).</summary>
    public static void Signal(LocalSilo silo, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, silo.ProcessId.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    private void Track(Task task)
    {
        lock (_gate)
        {
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(task);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Drains every silo still running (gracefully, in parallel) and waits for them to leave.</summary>
    public async ValueTask DisposeAsync()
    {
        await ScaleAsync(0).ConfigureAwait(false);
        Task[] pending;
        lock (_gate)
        {
            pending = _background.ToArray();
        }
        await Task.WhenAll(pending).ConfigureAwait(false);
        foreach (var silo in Silos)
        {
            silo.Process.Dispose();
        }
    }
}
