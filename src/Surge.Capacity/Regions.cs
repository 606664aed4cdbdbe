namespace Surge.Capacity;

/// <summary>A region (a cell of the marketplace: its sellers are homed there): its clock and its share of the orders.</summary>
public sealed record Region(string Name, double UtcOffsetHours, double LoadShare);

/// <summary>
/// The regions the simulator knows, with public round-trip times between them (typical figures between cloud
/// regions; approximate, and the reason every replication number in docs/MULTI_REGION.md states the RTT it assumed).
/// </summary>
public static class Regions
{
    /// <summary>Known regions with their default share of a Double-11 day's orders (renormalised over those chosen).</summary>
    public static IReadOnlyList<Region> Known { get; } =
    [
        new("seoul", 9, 0.40),
        new("tokyo", 9, 0.35),
        new("singapore", 8, 0.25),
        new("frankfurt", 1, 0.15),
        new("virginia", -5, 0.15),
    ];

    /// <summary>The day's default: the three regions of the article behind this project.</summary>
    public static IReadOnlyList<string> Default { get; } = ["seoul", "tokyo", "singapore"];

    private static readonly Dictionary<(string, string), double> Rtt = new()
    {
        [("seoul", "tokyo")] = 30,
        [("seoul", "singapore")] = 70,
        [("tokyo", "singapore")] = 70,
        [("frankfurt", "singapore")] = 160,
        [("frankfurt", "tokyo")] = 230,
        [("frankfurt", "seoul")] = 250,
        [("virginia", "frankfurt")] = 90,
        [("virginia", "tokyo")] = 150,
        [("virginia", "seoul")] = 180,
        [("virginia", "singapore")] = 220,
    };

    /// <summary>Round trip between two regions in milliseconds (0 within one).</summary>
    public static double RttMs(string a, string b) =>
        a == b ? 0 : Rtt.TryGetValue((a, b), out var ms) || Rtt.TryGetValue((b, a), out ms) ? ms
            : throw new ArgumentException($"no round-trip time known between {a} and {b}");

    /// <summary>Parses a comma-separated list of region names; unknown or repeated names are an error that lists the known ones.</summary>
    public static IReadOnlyList<Region> Parse(IEnumerable<string> names)
    {
        var chosen = new List<Region>();
        foreach (var raw in names)
        {
            var name = raw.Trim().ToLowerInvariant();
            var region = Known.FirstOrDefault(r => r.Name == name)
                ?? throw new ArgumentException($"unknown region '{raw}' (known: {string.Join(", ", Known.Select(r => r.Name))})");
            if (chosen.Any(r => r.Name == name))
            {
                throw new ArgumentException($"region '{name}' is named twice");
            }
            chosen.Add(region);
        }
        if (chosen.Count == 0)
        {
            throw new ArgumentException("name at least one region");
        }
        var total = chosen.Sum(r => r.LoadShare);
        return [.. chosen.Select(r => r with { LoadShare = r.LoadShare / total })];
    }

    /// <summary>The region a region's journal is replicated to and its cell fails over to: the nearest other one
    /// chosen (lowest RTT, then the name); none when it is alone.</summary>
    public static Region? Partner(Region region, IReadOnlyList<Region> regions) =>
        regions.Where(r => r.Name != region.Name).OrderBy(r => RttMs(region.Name, r.Name)).ThenBy(r => r.Name, StringComparer.Ordinal).FirstOrDefault();
}
