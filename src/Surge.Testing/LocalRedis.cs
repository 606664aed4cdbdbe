using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Surge.Testing;

/// <summary>
/// A throwaway Redis server: Debian's redis-server on loopback, a free port, its files in a temporary
/// directory, persistence as the caller asks (extra arguments). Ready once it answers PING; killed and
/// deleted on dispose.
/// </summary>
public sealed class LocalRedis : IAsyncDisposable
{
    /// <summary>How long redis-server may take to answer PING.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly string _directory;

    private LocalRedis(Process process, string directory, int port) => (_process, _directory, Port) = (process, directory, port);

    public int Port { get; }

    /// <summary>The arguments every instance gets before the caller's: loopback, the port, the directory.</summary>
    public static string[] BaseArguments(string directory, int port) =>
        ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", directory, "--protected-mode", "no", "--daemonize", "no"];

    public static async Task<LocalRedis> StartAsync(IEnumerable<string> arguments)
    {
        var program = LocalProcess.Find("redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server");
        var directory = Directory.CreateTempSubdirectory("surge-redis-").FullName;
        var port = LocalProcess.FreePort();
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in BaseArguments(directory, port).Concat(arguments))
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start redis-server");
        process.OutputDataReceived += (_, _) => { }; // drained so the server never blocks on a full pipe
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new LocalRedis(process, directory, port);
        try
        {
            var deadline = DateTime.UtcNow + StartTimeout;
            while (!await server.AnswersPingAsync())
            {
                if (process.HasExited || DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"redis-server did not answer PING on port {port} within {StartTimeout.TotalSeconds} s");
                }
                await Task.Delay(50); // polling until the server listens
            }
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task<bool> AnswersPingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }
        finally
        {
            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }
}
