namespace Surge.Cli.Load;

/// <summary>Finds files of the shared data folder (../shared/data next to the repository).</summary>
public static class SharedData
{
    /// <summary>An explicit path if given (it must exist), else <c>../shared/data/</c><paramref name="relative"/>
    /// found by walking up from the program's directory, else relative to the working directory.</summary>
    public static string Locate(string? path, string relative, string option)
    {
        if (path is not null)
        {
            return File.Exists(path) ? path : throw new FileNotFoundException($"no data file at {path}", path);
        }
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "..", "shared", "data", relative);
            if (File.Exists(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }
        var fromWorkingDirectory = Path.GetFullPath(Path.Combine("..", "shared", "data", relative));
        return File.Exists(fromWorkingDirectory) ? fromWorkingDirectory
            : throw new FileNotFoundException($"../shared/data/{relative} was not found next to the repository; pass {option}", relative);
    }
}
