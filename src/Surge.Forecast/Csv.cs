using System.Text;

namespace Surge.Forecast;

public static class Csv
{
    /// <summary>Opens a text file for reading, decompressing it on the way when its name ends in .gz.</summary>
    public static StreamReader OpenText(string path)
    {
        var file = File.OpenRead(path);
        return new StreamReader(path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress)
            : file);
    }

    /// <summary>Splits one CSV line on commas outside double quotes (R and the retail data quote text that
    /// holds commas, e.g. "ETS(M,Ad,M)"); a doubled quote inside quotes is a literal quote.</summary>
    public static string[] Split(string line)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var ch = line[i];
            if (ch == '"')
            {
                if (quoted && i + 1 < line.Length && line[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else
                {
                    quoted = !quoted;
                }
            }
            else if (ch == ',' && !quoted)
            {
                cells.Add(cell.ToString());
                cell.Clear();
            }
            else
            {
                cell.Append(ch);
            }
        }
        cells.Add(cell.ToString());
        return [.. cells];
    }
}
