using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Surge.Bench.Load;

/// <summary>
/// The benchmark's load generator: one keep-alive HTTP/1.1 connection that sends prepared requests and reads
/// each response (status, Content-Length body). Far lighter than HttpClient, so on a shared 2-core machine more
/// of the CPU goes to the server being measured. Loopback only; no chunked responses (Kestrel sends lengths
/// for the bodies measured here).
/// </summary>
public sealed class RawHttpConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[1 << 20];
    private int _start, _end;

    private RawHttpConnection(Socket socket) => _socket = socket;

    public static async Task<RawHttpConnection> OpenAsync(Uri baseAddress)
    {
        if (!IPAddress.IsLoopback(IPAddress.Parse(baseAddress.Host)))
        {
            throw new ArgumentException("the load generator targets loopback addresses only", nameof(baseAddress));
        }
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Parse(baseAddress.Host), baseAddress.Port).ConfigureAwait(false);
        return new RawHttpConnection(socket);
    }

    /// <summary>A complete POST request (headers and body, or no body when <paramref name="json"/> is empty) to send as is.</summary>
    public static byte[] Post(Uri baseAddress, string path, string? bearer, ReadOnlySpan<byte> json)
    {
        var head = $"POST {path} HTTP/1.1\r\nHost: {baseAddress.Authority}\r\n" + (json.IsEmpty ? "" : "Content-Type: application/json\r\n")
            + (bearer is null ? "" : $"Authorization: Bearer {bearer}\r\n") + $"Content-Length: {json.Length}\r\n\r\n";
        var request = new byte[Encoding.ASCII.GetByteCount(head) + json.Length];
        var written = Encoding.ASCII.GetBytes(head, request);
        json.CopyTo(request.AsSpan(written));
        return request;
    }

    /// <summary>Sends one request and reads its response; returns the status and the body (valid until the next call).</summary>
    public async Task<(int Status, ReadOnlyMemory<byte> Body)> SendAsync(ReadOnlyMemory<byte> request)
    {
        await _socket.SendAsync(request, SocketFlags.None).ConfigureAwait(false);
        int headerEnd;
        while ((headerEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            await FillAsync().ConfigureAwait(false);
        }
        var head = _buffer.AsSpan(_start, headerEnd);
        if (head.Length < 12 || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out _))
        {
            throw new InvalidDataException("not an HTTP/1.1 response");
        }
        var length = 0;
        var at = head.IndexOf("\r\nContent-Length: "u8);
        if (at >= 0 && !Utf8Parser.TryParse(head[(at + 18)..], out length, out _))
        {
            throw new InvalidDataException("unreadable Content-Length");
        }
        var bodyStart = _start + headerEnd + 4;
        while (_end - bodyStart < length)
        {
            if (bodyStart > 0 && _buffer.Length - _end < length)
            {
                Array.Copy(_buffer, bodyStart, _buffer, 0, _end - bodyStart);
                (_end, bodyStart, _start) = (_end - bodyStart, 0, 0);
            }
            await FillAsync().ConfigureAwait(false);
        }
        _start = bodyStart + length;
        if (_start == _end)
        {
            _start = _end = 0;
        }
        return (status, _buffer.AsMemory(bodyStart, length));
    }

    private async Task FillAsync()
    {
        if (_end == _buffer.Length)
        {
            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            (_end, _start) = (_end - _start, 0);
        }
        var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None).ConfigureAwait(false);
        if (read == 0)
        {
            throw new IOException("the server closed the connection");
        }
        _end += read;
    }

    public void Dispose() => _socket.Dispose();
}
