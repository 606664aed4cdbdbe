using System.Runtime.InteropServices;

namespace Surge.Core;

/// <summary>
/// Allocation of the engine's big tables. An order table grows into hundreds of megabytes; touched for the
/// first time in 4 KiB pages, the page faults cost more than the engine's own work (measured: a quarter of
/// the time of the engine benchmark). Large tables are therefore pinned, advised to the kernel as huge-page
/// candidates (madvise MADV_HUGEPAGE, honoured when transparent huge pages are in "madvise" or "always"
/// mode), and zeroed at once, so the faults happen when the table is sized — at start-up or on a rare
/// doubling — and not while orders are applied. A hint only: contents and determinism do not depend on it.
/// </summary>
internal static unsafe partial class LargeArray
{
    private const long HugePageBytes = 2 * 1024 * 1024;
    private const long PinnedBytesMin = 4 * 1024 * 1024;
    private const int MadviseHugePage = 14;

    public static T[] New<T>(int length) where T : unmanaged
    {
        var bytes = (long)length * sizeof(T);
        if (bytes < PinnedBytesMin || !OperatingSystem.IsLinux())
        {
            return new T[length];
        }
        var array = GC.AllocateUninitializedArray<T>(length, pinned: true);
        fixed (T* first = array)
        {
            var start = ((long)first + HugePageBytes - 1) & ~(HugePageBytes - 1);
            var end = ((long)first + bytes) & ~(HugePageBytes - 1);
            if (end > start)
            {
                _ = Madvise((nint)start, (nuint)(end - start), MadviseHugePage);
            }
        }
        array.AsSpan().Clear();
        return array;
    }

    /// <summary>The next capacity of a growing table: half as large again. Doubling would leave up to half of
    /// a table of hundreds of megabytes empty (memory per live order is a watched figure).</summary>
    public static int Grown(int length) => checked(length + Math.Max(16, length / 2));

    /// <summary>Replaces <paramref name="array"/> with a larger one holding the same leading elements.</summary>
    public static void Resize<T>(ref T[] array, int length) where T : unmanaged
    {
        var larger = New<T>(length);
        array.AsSpan(0, Math.Min(array.Length, length)).CopyTo(larger);
        array = larger;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
