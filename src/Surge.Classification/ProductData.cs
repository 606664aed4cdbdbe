using Microsoft.ML;
using Microsoft.ML.Data;

namespace Surge.Classification;

/// <summary>One labelled product offer: its title, its category and the product cluster it belongs to (offers
/// of the same real product; folds and splits keep a cluster on one side).</summary>
public sealed class ProductRow
{
    [LoadColumn(1)]
    public string Title { get; set; } = "";

    [LoadColumn(3)]
    public string Cluster { get; set; } = "";

    [LoadColumn(6)]
    public string Category { get; set; } = "";
}

/// <summary>Reads files in the PriceRunner CSV format (../shared/data/pricerunner): a header row naming at least
/// <c>Product Title</c>, <c>Cluster ID</c> and <c>Category Label</c> in the columns of
/// <see cref="ProductRow"/>, RFC 4180 quoting.</summary>
public static class ProductData
{
    private static readonly string[] Expected = ["Product ID", "Product Title", "Merchant ID", "Cluster ID", "Cluster Label", "Category ID", "Category Label"];

    /// <summary>The rows of <paramref name="path"/>; throws <see cref="InvalidDataException"/> naming the
    /// problem when the file is missing, empty or of another format. Rows with an empty title or category
    /// are skipped and counted in <paramref name="skipped"/>.</summary>
    public static List<ProductRow> Read(string path, out int skipped)
    {
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path}: no such file");
        }
        using (var reader = new StreamReader(path))
        {
            var header = reader.ReadLine() ?? throw new InvalidDataException($"{path}: the file is empty");
            var names = header.Split(',').Select(n => n.Trim().Trim('"')).ToArray();
            if (names.Length < Expected.Length || !Expected.SequenceEqual(names.Take(Expected.Length)))
            {
                throw new InvalidDataException($"{path}: expected the PriceRunner header ({string.Join(",", Expected)}), found '{header}'");
            }
        }
        var context = new Microsoft.ML.MLContext(seed: 0);
        var view = context.Data.LoadFromTextFile<ProductRow>(path, separatorChar: ',', hasHeader: true, allowQuoting: true);
        var rows = new List<ProductRow>();
        skipped = 0;
        foreach (var row in context.Data.CreateEnumerable<ProductRow>(view, reuseRowObject: false))
        {
            if (string.IsNullOrWhiteSpace(row.Title) || string.IsNullOrWhiteSpace(row.Category))
            {
                skipped++;
                continue;
            }
            rows.Add(row);
        }
        if (rows.Count == 0)
        {
            throw new InvalidDataException($"{path}: no labelled rows");
        }
        return rows;
    }
}
