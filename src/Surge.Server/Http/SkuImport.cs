using System.Globalization;
using System.Text;
using CsvHelper;
using CsvHelper.Configuration;
using MiniExcelLibs;
using Surge.Core;

namespace Surge.Server;

/// <summary>
/// Reads a merchant's spreadsheet of SKUs (CSV in UTF-8, CP949 or GB18030, or XLSX) into SKU bodies, one row at a time,
/// and says for each row what it found: a real spreadsheet has blank lines, stray spaces (<c>47503J </c>), prices
/// with thousands commas or a currency sign, headers in Korean or Chinese. What can be cleaned up without guessing
/// is (and noted); what cannot is refused with the reason, and the other rows go on.
/// </summary>
public static class SkuImport
{
    public const string XlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

    /// <summary>The media types a file may come as (the content decides between CSV and XLSX).</summary>
    public static readonly string[] ContentTypes = ["text/csv", "text/plain", XlsxType, "application/octet-stream"];

    /// <summary>Largest file taken, in bytes.</summary>
    public const int FileBytesMax = 8 * 1024 * 1024;

    /// <summary>Most rows taken from one file (the header not counted).</summary>
    public const int RowsMax = 10_000;

    /// <summary>The columns, each under the names a merchant's sheet may give it (compared without case, spaces, _ or -).</summary>
    private static readonly (string Column, string[] Names)[] Columns =
    [
        ("sku", ["sku", "code", "skucode", "productcode", "상품코드", "판매자상품코드", "품번", "货号", "商品编码", "编码"]),
        ("title", ["title", "name", "productname", "상품명", "제품명", "商品名称", "名称", "标题"]),
        ("price", ["price", "가격", "판매가", "价格", "售价", "单价"]),
        ("price_minor", ["priceminor"]),
        ("currency", ["currency", "통화", "币种", "货币"]),
        ("weight_g", ["weightg", "weight", "무게", "무게g", "중량", "重量", "重量g"]),
        ("temperature", ["temperature", "온도", "보관온도", "温度", "温层"]),
        ("hazmat", ["hazmat", "위험물", "危险品"]),
        ("category", ["category", "카테고리", "분류", "类目", "分类"]),
    ];

    private static readonly Dictionary<string, string> Temperatures = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ambient"] = "ambient", ["chilled"] = "chilled", ["frozen"] = "frozen",
        ["상온"] = "ambient", ["냉장"] = "chilled", ["냉동"] = "frozen",
        ["常温"] = "ambient", ["冷藏"] = "chilled", ["冷冻"] = "frozen",
    };

    private static readonly Dictionary<string, bool> Booleans = new(StringComparer.OrdinalIgnoreCase)
    {
        ["yes"] = true, ["y"] = true, ["true"] = true, ["1"] = true, ["예"] = true, ["네"] = true, ["是"] = true,
        ["no"] = false, ["n"] = false, ["false"] = false, ["0"] = false, ["아니오"] = false, ["아니요"] = false, ["否"] = false,
    };

    /// <summary>One data row: its number in the sheet (1 = header) and either a SKU to write or what became of it.</summary>
    public sealed record Entry(int Row, SkuBody? Body, SkuImportRow? Outcome, string[] Notes);

    /// <summary>The rows of a file: CSV (any of the encodings above, delimiter detected) or XLSX (the first sheet).</summary>
    public static (List<(int Row, string?[] Cells)> Rows, string Encoding) ReadTable(byte[] file, string? encodingName)
    {
        if (file.Length >= 4 && file[0] == 'P' && file[1] == 'K' && file[2] == 3 && file[3] == 4)
        {
            return (ReadXlsx(file), "xlsx");
        }
        var (text, encoding) = Decode(file, encodingName);
        return (ReadCsv(text), encoding);
    }

    private static (string Text, string Encoding) Decode(byte[] file, string? encodingName)
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        string[] tries = encodingName is { Length: > 0 } given ? [given] : ["utf-8", "cp949", "gb18030"];
        foreach (var name in tries)
        {
            Encoding encoding;
            try
            {
                encoding = Encoding.GetEncoding(name == "cp949" ? "ks_c_5601-1987" : name, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
            }
            catch (ArgumentException)
            {
                throw new RequestShapeException($"encoding: '{name}' is not one this server reads (utf-8, cp949, gb18030, …)");
            }
            try
            {
                var text = encoding.GetString(file);
                return (text.Length > 0 && text[0] == '\uFEFF' ? text[1..] : text, name);
            }
            catch (DecoderFallbackException) when (encodingName is null)
            {
                // not this encoding: try the next
            }
            catch (DecoderFallbackException)
            {
                throw new RequestShapeException($"the file is not valid {name}");
            }
        }
        throw new RequestShapeException("the file is not text in UTF-8, CP949 or GB18030 (save it as \"CSV UTF-8\", or as XLSX)");
    }

    private static List<(int Row, string?[] Cells)> ReadCsv(string text)
    {
        var rows = new List<(int, string?[])>();
        var config = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            DetectDelimiter = true,
            DetectDelimiterValues = [",", ";", "\t"],
            IgnoreBlankLines = false,
            BadDataFound = null,
            MissingFieldFound = null,
            TrimOptions = TrimOptions.None,
        };
        using var reader = new StringReader(text);
        using var parser = new CsvParser(reader, config);
        while (parser.Read())
        {
            if (rows.Count > RowsMax + 1)
            {
                throw new RequestShapeException($"at most {RowsMax:N0} rows in one file (split it)");
            }
            rows.Add((parser.Row, parser.Record ?? []));
        }
        return rows;
    }

    private static List<(int Row, string?[] Cells)> ReadXlsx(byte[] file)
    {
        var rows = new List<(int, string?[])>();
        try
        {
            using var stream = new MemoryStream(file, writable: false);
            var number = 0;
            foreach (IDictionary<string, object?> row in MiniExcel.Query(stream, useHeaderRow: false, excelType: ExcelType.XLSX))
            {
                number++;
                if (rows.Count > RowsMax + 1)
                {
                    throw new RequestShapeException($"at most {RowsMax:N0} rows in one file (split it)");
                }
                rows.Add((number, row.Values.Select(Cell).ToArray()));
            }
        }
        catch (Exception e) when (e is not RequestShapeException and not OutOfMemoryException)
        {
            throw new RequestShapeException($"the file is not a readable XLSX workbook ({e.GetType().Name})");
        }
        return rows;
    }

    private static string? Cell(object? value) => value switch
    {
        null => null,
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        DateTime t => t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    /// <summary>The SKU bodies of a table whose first non-blank row is the header; <paramref name="defaultCurrency"/>
    /// for rows without a currency column or value.</summary>
    public static List<Entry> Plan(IReadOnlyList<(int Row, string?[] Cells)> table, string? defaultCurrency)
    {
        var headerAt = 0;
        while (headerAt < table.Count && table[headerAt].Cells.All(string.IsNullOrWhiteSpace))
        {
            headerAt++;
        }
        if (headerAt == table.Count)
        {
            throw new RequestShapeException("the file has no rows (a header row and one row per SKU)");
        }
        var columns = Header(table[headerAt].Cells);
        foreach (var needed in new[] { "sku", "title" })
        {
            if (!columns.ContainsKey(needed))
            {
                throw new RequestShapeException($"no '{needed}' column in the header row (columns: sku, title, price, currency, weight_g, temperature, hazmat, category)");
            }
        }
        if (!columns.ContainsKey("price") && !columns.ContainsKey("price_minor"))
        {
            throw new RequestShapeException("no 'price' column in the header row");
        }
        var entries = new List<Entry>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (row, cells) in table.Skip(headerAt + 1))
        {
            entries.Add(Row(row, cells, columns, defaultCurrency, seen));
        }
        return entries;
    }

    private static Dictionary<string, int> Header(string?[] cells)
    {
        var columns = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < cells.Length; i++)
        {
            var name = new string((cells[i] ?? "").Where(c => !char.IsWhiteSpace(c) && c is not '_' and not '-' and not '(' and not ')' and not '\uFEFF').ToArray())
                .ToLowerInvariant();
            if (Columns.FirstOrDefault(c => c.Names.Contains(name)) is { Column: { } column })
            {
                columns.TryAdd(column, i);
            }
        }
        return columns;
    }

    private static Entry Row(int row, string?[] cells, Dictionary<string, int> columns, string? defaultCurrency, Dictionary<string, int> seen)
    {
        var notes = new List<string>();
        if (cells.All(string.IsNullOrWhiteSpace))
        {
            return new Entry(row, null, new SkuImportRow(row, "skipped", Detail: "blank row"), []);
        }
        string? Value(string column)
        {
            if (!columns.TryGetValue(column, out var i) || i >= cells.Length || cells[i] is not { } raw)
            {
                return null;
            }
            var trimmed = raw.Trim();
            if (trimmed.Length != raw.Length && trimmed.Length > 0)
            {
                notes.Add($"spaces trimmed from {column}");
            }
            return trimmed.Length == 0 ? null : trimmed;
        }
        var sku = Value("sku");
        Entry Refuse(string detail) => new(row, null, new SkuImportRow(row, "refused", sku, "invalid_request", detail, [.. notes]), [.. notes]);
        if (sku is null)
        {
            return Refuse("sku: empty");
        }
        if (seen.TryGetValue(sku, out var first))
        {
            return Refuse($"sku '{sku}' is also on row {first}; a file names each SKU once");
        }
        seen[sku] = row;
        var title = Value("title");
        if (title is null)
        {
            return Refuse("title: empty");
        }
        var currency = Value("currency")?.ToUpperInvariant() ?? defaultCurrency;
        if (currency is null || !CurrencyCode.IsValid(currency))
        {
            return Refuse(currency is null ? "currency: empty (add a currency column, or choose a default)" : $"currency: '{currency}' is not an ISO 4217 code such as KRW");
        }
        long priceMinor;
        if (Value("price") is { } price)
        {
            if (!TryParseMoney(price, CurrencyCode.MinorDigits(currency), out priceMinor, out var problem, out var cleaned))
            {
                return Refuse($"price: {problem}");
            }
            if (cleaned)
            {
                notes.Add("price: thousands separators or currency sign removed");
            }
        }
        else if (Value("price_minor") is { } minor)
        {
            if (!long.TryParse(minor, NumberStyles.None, CultureInfo.InvariantCulture, out priceMinor))
            {
                return Refuse($"price_minor: '{minor}' is not a whole number");
            }
        }
        else
        {
            return Refuse("price: empty");
        }
        var weight = 0;
        if (Value("weight_g") is { } w)
        {
            var digits = w.EndsWith('g') && !w.EndsWith("kg", StringComparison.OrdinalIgnoreCase) ? w[..^1].Trim() : w;
            if (!TryParseMoney(digits, 0, out var grams, out _, out _) || grams > int.MaxValue)
            {
                return Refuse($"weight_g: '{w}' is not a whole number of grams");
            }
            weight = (int)grams;
        }
        var temperature = "ambient";
        if (Value("temperature") is { } t)
        {
            if (!Temperatures.TryGetValue(t, out var known))
            {
                return Refuse($"temperature: '{t}' is not ambient, chilled or frozen");
            }
            temperature = known;
        }
        var hazmat = false;
        if (Value("hazmat") is { } h && !Booleans.TryGetValue(h, out hazmat))
        {
            return Refuse($"hazmat: '{h}' is not yes or no");
        }
        return new Entry(row, new SkuBody(sku, title, priceMinor, currency, weight, temperature, hazmat, Value("category")), null, [.. notes]);
    }

    /// <summary>A price as a merchant writes it, in major units (<c>12,900</c>, <c>₩12,900</c>, <c>12.50</c>), into minor units
    /// of a currency with <paramref name="digits"/> decimals. Commas are thousands separators only where every group after
    /// one has three digits; <c>12,50</c> is refused as ambiguous rather than guessed. <paramref name="cleaned"/>: separators or
    /// a sign were removed.</summary>
    public static bool TryParseMoney(string text, int digits, out long minor, out string problem, out bool cleaned)
    {
        minor = 0;
        problem = "";
        var stripped = new string(text.Where(c => !char.IsWhiteSpace(c) && c is not '₩' and not '¥' and not '$' and not '€' and not '£' and not '元' and not '원').ToArray());
        cleaned = stripped.Length != text.Length;
        var point = stripped.IndexOf('.');
        var whole = point < 0 ? stripped : stripped[..point];
        var fraction = point < 0 ? "" : stripped[(point + 1)..];
        if (whole.Contains(','))
        {
            var groups = whole.Split(',');
            if (groups[0].Length is 0 or > 3 || groups.Skip(1).Any(g => g.Length != 3))
            {
                problem = $"'{text}' is ambiguous (write {text.Replace(',', '.')} with a point for decimals, or 1,250 with groups of three)";
                return false;
            }
            whole = string.Concat(groups);
            cleaned = true;
        }
        if (whole.Length == 0 || !whole.All(char.IsAsciiDigit) || !fraction.All(char.IsAsciiDigit) || (point >= 0 && fraction.Length == 0))
        {
            problem = $"'{text}' is not a number";
            return false;
        }
        if (fraction.Length > digits)
        {
            problem = digits == 0 ? $"'{text}': this currency has no minor unit (whole amounts only)" : $"'{text}': at most {digits} decimals";
            return false;
        }
        var scaled = whole + fraction.PadRight(digits, '0');
        if (scaled.Length > 18 || !long.TryParse(scaled, NumberStyles.None, CultureInfo.InvariantCulture, out minor) || minor > Limits.PriceMinorMax)
        {
            problem = $"'{text}' is too large";
            return false;
        }
        return true;
    }
}
