using System.Globalization;
using Surge.Forecast;

namespace Surge.Cli.Load;

public sealed record RetailProduct(string StockCode, string Description, long PriceMinor, long UnitsSold);

public sealed record RetailLine(string StockCode, int Quantity);

public sealed record RetailInvoice(string Number, DateTime At, string Customer, string Country, RetailLine[] Lines);

/// <summary>
/// The UCI Online Retail data (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
/// Country; optionally .gz) as products and invoices — or its sequel, Online Retail II, which names three of those
/// columns Invoice, Price and Customer ID. Cancellations (C/A invoices), non-positive quantities and
/// prices are left out; malformed rows are counted, never fatal.
/// </summary>
public sealed class RetailData
{
    public required IReadOnlyList<RetailProduct> Products { get; init; }
    public required IReadOnlyList<RetailInvoice> Invoices { get; init; }
    public long Rows { get; init; }
    public long Malformed { get; init; }

    /// <summary>The invoice column's name in Online Retail and in Online Retail II: the header that tells an order history.</summary>
    public static readonly string[] InvoiceColumns = ["InvoiceNo", "Invoice"];

    /// <summary>Whether a CSV header is an Online Retail order history's (either variant).</summary>
    public static bool IsOrderHistory(string header) => Csv.Split(header).Any(c => InvoiceColumns.Contains(c));

    /// <summary>The data file: an explicit path, else the shared data next to the repository.</summary>
    public static string Locate(string? path) => SharedData.Locate(path, "online-retail/online_retail.csv.gz", "--data-file");

    public static RetailData Read(string path)
    {
        using var reader = Csv.OpenText(path);
        var columns = Csv.Split(reader.ReadLine() ?? throw new InvalidDataException($"{path}: empty file"));
        int Column(params string[] names) => names.Select(n => Array.IndexOf(columns, n)).FirstOrDefault(i => i >= 0, -1) is var i and >= 0
            ? i : throw new InvalidDataException($"{path}: no column {string.Join(" or ", names)} (the Online Retail or Online Retail II header)");
        var (invoiceAt, codeAt, textAt, quantityAt, dateAt, priceAt, customerAt, countryAt) = (Column(InvoiceColumns), Column("StockCode"),
            Column("Description"), Column("Quantity"), Column("InvoiceDate"), Column("UnitPrice", "Price"), Column("CustomerID", "Customer ID"), Column("Country"));
        var products = new Dictionary<string, (string Text, decimal Price, long Units)>(StringComparer.Ordinal);
        var invoices = new List<RetailInvoice>();
        var lines = new List<RetailLine>();
        string? current = null;
        (DateTime At, string Customer, string Country) head = default;
        long rows = 0, malformed = 0;
        void Flush()
        {
            if (current is not null && lines.Count > 0)
            {
                invoices.Add(new RetailInvoice(current, head.At, head.Customer!, head.Country!, lines.ToArray()));
            }
            lines.Clear();
        }
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            rows++;
            var cells = Csv.Split(line);
            if (cells.Length != columns.Length || cells[invoiceAt].Length == 0 || cells[codeAt].Length == 0
                || !int.TryParse(cells[quantityAt], NumberStyles.Integer, CultureInfo.InvariantCulture, out var quantity)
                || !decimal.TryParse(cells[priceAt], NumberStyles.Number, CultureInfo.InvariantCulture, out var price)
                || !DateTime.TryParse(cells[dateAt], CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
            {
                malformed++;
                continue;
            }
            if (cells[invoiceAt][0] is 'C' or 'A' || quantity <= 0 || price <= 0)
            {
                continue;
            }
            if (cells[invoiceAt] != current)
            {
                Flush();
                current = cells[invoiceAt];
                head = (at, cells[customerAt].Length > 0 ? cells[customerAt] : "guest-" + current, cells[countryAt]);
            }
            var code = cells[codeAt];
            lines.Add(new RetailLine(code, quantity));
            products[code] = products.TryGetValue(code, out var p) ? (p.Text, p.Price, p.Units + quantity) : (cells[textAt], price, quantity);
        }
        Flush();
        return new RetailData
        {
            Products = products.Select(p => new RetailProduct(p.Key, p.Value.Text.Length > 0 ? p.Value.Text : p.Key,
                (long)Math.Round(p.Value.Price * 100m), p.Value.Units)).OrderByDescending(p => p.UnitsSold).ToList(),
            Invoices = invoices,
            Rows = rows,
            Malformed = malformed,
        };
    }

    /// <summary>ISO 3166 code of the data's country names (the common ones; the rest ship from the UK list as GB).</summary>
    public static string CountryCode(string country) => country switch
    {
        "United Kingdom" => "GB",
        "France" => "FR",
        "Germany" => "DE",
        "EIRE" => "IE",
        "Spain" => "ES",
        "Netherlands" => "NL",
        "Belgium" => "BE",
        "Switzerland" => "CH",
        "Portugal" => "PT",
        "Australia" => "AU",
        "Norway" => "NO",
        "Italy" => "IT",
        _ => "GB",
    };
}
