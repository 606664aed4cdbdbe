using System.Text.Json;

namespace Surge.Classification;

/// <summary>
/// Titles labelled by sellers, read from a node's category log (categories.jsonl): a line that clears a suggestion
/// because the seller set the category carries the SKU's title, the category the seller set (<c>label</c>) and the
/// one that had been suggested (<c>category</c>). Each such line is a labelled example; it was <em>accepted</em> when
/// the two agree and <em>replaced</em> otherwise. Lines torn by a crash, and lines without a title or label (written
/// before labels were kept), are skipped.
/// </summary>
public static class SellerLabels
{
    public sealed record Labels(IReadOnlyList<ProductRow> Rows, int Accepted, int Replaced, int Skipped);

    private sealed record Line(long SellerId, string? Sku, string? Category, bool Cleared, string? Title, string? Label);

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Labels Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path}: no such file");
        }
        var rows = new List<ProductRow>();
        int accepted = 0, replaced = 0, skipped = 0;
        foreach (var text in File.ReadLines(path))
        {
            Line? line;
            try
            {
                line = JsonSerializer.Deserialize<Line>(text, Json);
            }
            catch (JsonException)
            {
                skipped++;
                continue;
            }
            if (line is not { Cleared: true, Title.Length: > 0, Label.Length: > 0 })
            {
                continue;
            }
            // A labelled title is its own product cluster: it never shares a fold with the training data's.
            rows.Add(new ProductRow { Title = line.Title, Category = line.Label, Cluster = $"seller:{line.SellerId}:{line.Sku}" });
            if (line.Label == line.Category)
            {
                accepted++;
            }
            else
            {
                replaced++;
            }
        }
        return new Labels(rows, accepted, replaced, skipped);
    }
}
