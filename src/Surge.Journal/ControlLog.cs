namespace Surge.Journal;

/// <summary>
/// A small append-only log of lines (JSON) shared by everyone who opens it: the control data of a node, or of a
/// cluster when it lives in a database. Writes are rare; each is decided with the whole log in view, under an
/// exclusive section that spans every writer, so a decision such as "the next seller id" cannot be taken twice.
/// </summary>
public interface IControlLog : IDisposable
{
    /// <summary>Lines appended since the previous read or write by this instance (by anyone), in log order. The
    /// first call returns the whole log.</summary>
    IReadOnlyList<string> ReadNew();

    /// <summary>Exclusive across every writer: hands <paramref name="decide"/> the lines appended since this
    /// instance last read, then appends the line it returns (null: nothing) durably before returning.</summary>
    void Write(Func<IReadOnlyList<string>, string?> decide);
}

/// <summary>The control log as a JSON-lines file, fsync'd per write; one writer (this process). A torn last line
/// (a crash while appending) was never acknowledged: it is cut off when the file is opened.</summary>
public sealed class FileControlLog : IControlLog
{
    private readonly FileStream _file;
    private List<string>? _unread;

    public FileControlLog(string path)
    {
        _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        var bytes = new byte[_file.Length];
        _file.ReadExactly(bytes);
        var complete = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        if (complete < bytes.Length)
        {
            _file.SetLength(complete); // the torn tail
            _file.Flush(flushToDisk: true);
        }
        _file.Position = complete;
        _unread = System.Text.Encoding.UTF8.GetString(bytes, 0, complete).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    public IReadOnlyList<string> ReadNew()
    {
        var lines = _unread ?? [];
        _unread = null;
        return lines;
    }

    public void Write(Func<IReadOnlyList<string>, string?> decide)
    {
        if (decide(ReadNew()) is not { } line)
        {
            return;
        }
        if (line.Contains('\n'))
        {
            throw new ArgumentException("a control line cannot contain a line break");
        }
        _file.Write(System.Text.Encoding.UTF8.GetBytes(line + "\n"));
        _file.Flush(flushToDisk: true);
    }

    public void Dispose() => _file.Dispose();
}
