using System.Net;
using System.Net.Sockets;

namespace Surge.Flow;

/// <summary>
/// Where the server may send webhooks and carrier manifests: public addresses only, so that a seller who subscribes a
/// URL cannot make the server call its own loopback, the private network it runs in, or a cloud metadata service
/// (server-side request forgery). Hosts the operator names in <see cref="AllowedHosts"/> (exact host names or IP
/// literals, case-insensitive) are exempt — tests and carriers on the operator's own network need that. A URL is checked
/// when it is given (<see cref="RefusalAsync"/>) and every connection is checked again when it is made
/// (<see cref="CreateHandler"/>): DNS can answer differently by then.
/// </summary>
public sealed class OutboundPolicy(IEnumerable<string>? allowedHosts = null)
{
    /// <summary>Longest a URL's host may take to resolve when it is checked.</summary>
    public static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(3);

    public IReadOnlySet<string> AllowedHosts { get; } = new HashSet<string>(allowedHosts ?? [], StringComparer.OrdinalIgnoreCase);

    public bool Allows(string host) => AllowedHosts.Contains(host.Trim('[', ']'));

    /// <summary>Why <paramref name="url"/> may not be called (null: it may): its host resolves to an address that is not
    /// public. A host that does not resolve (yet) is not refused here: each connection is checked when it is made.</summary>
    public async Task<string?> RefusalAsync(Uri url, CancellationToken cancellationToken = default)
    {
        if (Allows(url.Host))
        {
            return null;
        }
        IPAddress[] addresses;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ResolveTimeout);
            addresses = await ResolveAsync(url.Host, timeout.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        return addresses.FirstOrDefault(a => !IsPublic(a)) is { } refused
            ? $"{url.Host} resolves to {refused}, which is {Kind(refused)}; the server calls only public addresses unless the operator allows the host"
            : null;
    }

    /// <summary>An HTTP handler whose every connection goes only to a public address of its host (or to an allowed host).</summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectCallback = async (context, cancellationToken) =>
        {
            var host = context.DnsEndPoint.Host;
            var addresses = await ResolveAsync(host, cancellationToken);
            var allowed = Allows(host) ? addresses : [.. addresses.Where(IsPublic)];
            if (allowed.Length == 0)
            {
                throw new HttpRequestException(addresses.Length == 0 ? $"{host} does not resolve"
                    : $"refused to connect to {host}: it resolves to {addresses[0]}, which is {Kind(addresses[0])} (allow the host to call it)");
            }
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    /// <summary>The addresses of a host: itself when it is an IP literal (bracketed for IPv6 in a URL), else DNS's answer.</summary>
    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);

    /// <summary>True for an address on the public internet: not loopback, unspecified, private (RFC 1918, unique local),
    /// shared (carrier-grade NAT), link-local (which holds the cloud metadata address 169.254.169.254), multicast,
    /// broadcast, documentation or reserved.</summary>
    public static bool IsPublic(IPAddress address) => Kind(address) == "public";

    private static string Kind(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (IPAddress.IsLoopback(address))
        {
            return "loopback";
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 => "unspecified",
                10 => "private",
                100 when b[1] is >= 64 and <= 127 => "shared (carrier-grade NAT)",
                169 when b[1] == 254 => "link-local (cloud metadata)",
                172 when b[1] is >= 16 and <= 31 => "private",
                192 when b[1] == 168 => "private",
                192 when b[1] == 0 && b[2] is 0 or 2 => "reserved",
                198 when b[1] is 18 or 19 => "reserved",
                198 when b[1] == 51 && b[2] == 100 => "reserved",
                203 when b[1] == 0 && b[2] == 113 => "reserved",
                >= 224 => "multicast or reserved",
                _ => "public",
            };
        }
        if (address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.IPv6None))
        {
            return "unspecified";
        }
        if (address.IsIPv6LinkLocal || address.IsIPv6SiteLocal)
        {
            return "link-local";
        }
        if (address.IsIPv6UniqueLocal)
        {
            return "private";
        }
        if (address.IsIPv6Multicast)
        {
            return "multicast or reserved";
        }
        var bytes = address.GetAddressBytes();
        return bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0d && bytes[3] == 0xb8 ? "reserved" : "public";
    }
}
