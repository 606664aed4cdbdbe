using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Surge.Journal;

/// <summary>Journal storage in a local directory. Sync is fdatasync(2); directory changes are made durable
/// with fsync(2) on the directory, as POSIX requires for new and renamed files.</summary>
public sealed partial class DirectoryStorage : IJournalStorage
{
    private readonly string _directory;

    public DirectoryStorage(string directory)
    {
        _directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(_directory);
    }

    public IReadOnlyList<string> ListFiles() =>
        Directory.EnumerateFiles(_directory).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();

    public IStorageFile Open(string name, bool create)
    {
        var handle = File.OpenHandle(Path.Combine(_directory, name), create ? FileMode.OpenOrCreate : FileMode.Open,
            FileAccess.ReadWrite, FileShare.Read);
        return new DirectoryFile(handle);
    }

    public void Delete(string name) => File.Delete(Path.Combine(_directory, name));

    public void Rename(string from, string to)
    {
        File.Move(Path.Combine(_directory, from), Path.Combine(_directory, to), overwrite: true);
        SyncDirectory();
    }

    public void SyncDirectory()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        var fd = NativeMethods.Open(_directory, NativeMethods.ORdOnly | NativeMethods.ODirectory);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {_directory} to sync it (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            if (NativeMethods.Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {_directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = NativeMethods.Close(fd);
        }
    }

    public string Describe(string name) => Path.Combine(_directory, name);

    /// <summary>The file system's device number (st_dev of the directory), so that journals in sibling directories
    /// share one device flush — on ext4 and XFS only, whose fdatasync flushes the device's cache even when the file
    /// had nothing left to write (the flush that makes the other files' write-back durable); elsewhere, or when it
    /// cannot be read, the storage itself (every journal syncs its own file).</summary>
    public object Device => _device ??= ReadDevice(_directory) is { } id ? id : this;

    private object? _device;

    private readonly record struct DeviceId(ulong Number);

    private const long Ext4Magic = 0xEF53;
    private const long XfsMagic = 0x58465342;

    private static unsafe DeviceId? ReadDevice(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        // st_dev is the first field of struct stat, f_type the first of struct statfs (x86-64 and arm64), 8 bytes
        // each; both structs are under 256 bytes.
        var buffer = stackalloc byte[256];
        try
        {
            if (NativeMethods.StatFs(path, buffer) != 0 || *(long*)buffer is not (Ext4Magic or XfsMagic))
            {
                return null;
            }
            return NativeMethods.Stat(path, buffer) == 0 ? new DeviceId(*(ulong*)buffer) : null;
        }
        catch (EntryPointNotFoundException)
        {
            return null; // a C library older than glibc 2.33 exports stat only as __xstat: one device per storage then
        }
    }

    private sealed class DirectoryFile(SafeFileHandle handle) : IStorageFile
    {
        public long Length => RandomAccess.GetLength(handle);

        public int Read(long offset, Span<byte> destination)
        {
            var total = 0;
            while (total < destination.Length)
            {
                var n = RandomAccess.Read(handle, destination[total..], offset + total);
                if (n == 0)
                {
                    break;
                }
                total += n;
            }
            return total;
        }

        public void Write(long offset, ReadOnlySpan<byte> source) => RandomAccess.Write(handle, source, offset);

        public void Sync()
        {
            if (!OperatingSystem.IsLinux())
            {
                throw new PlatformNotSupportedException("the journal needs fdatasync(2) (Linux)");
            }
            if (NativeMethods.Fdatasync(handle) != 0)
            {
                throw new IOException($"fdatasync failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }

        public void WriteBack()
        {
            if (!OperatingSystem.IsLinux())
            {
                Sync();
                return;
            }
            if (NativeMethods.SyncFileRange(handle, 0, 0, NativeMethods.SyncFileRangeWaitBefore | NativeMethods.SyncFileRangeWrite
                | NativeMethods.SyncFileRangeWaitAfter) != 0)
            {
                throw new IOException($"sync_file_range failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }

        public void StartWriteBack()
        {
            if (OperatingSystem.IsLinux() && NativeMethods.SyncFileRange(handle, 0, 0, NativeMethods.SyncFileRangeWrite) != 0)
            {
                throw new IOException($"sync_file_range failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }

        public void SetLength(long length) => RandomAccess.SetLength(handle, length);

        public void Dispose() => handle.Dispose();
    }

    private static partial class NativeMethods
    {
        public const int ORdOnly = 0;
        public const int ODirectory = 0x10000;

        [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
        public static partial int Fdatasync(SafeFileHandle fd);

        public const uint SyncFileRangeWaitBefore = 1;
        public const uint SyncFileRangeWrite = 2;
        public const uint SyncFileRangeWaitAfter = 4;

        [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
        public static partial int SyncFileRange(SafeFileHandle fd, long offset, long bytes, uint flags);

        [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static unsafe partial int StatFs(string path, byte* buffer);

        [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static unsafe partial int Stat(string path, byte* buffer);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static partial int Fsync(int fd);

        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);
    }
}
