using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Surge.Core;

/// <summary>Sequential little-endian reader over an encoded batch (layout in <see cref="CommandWriter"/>).
/// Reads past the end throw, so a malformed batch can never be half-understood.</summary>
public ref struct CommandReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly int Position => _position;
    public readonly bool AtEnd => _position == _data.Length;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte U8() => _data[_position++];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort U16()
    {
        var v = BinaryPrimitives.ReadUInt16LittleEndian(_data.Slice(_position, 2));
        _position += 2;
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int I32()
    {
        var v = BinaryPrimitives.ReadInt32LittleEndian(_data.Slice(_position, 4));
        _position += 4;
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long I64()
    {
        var v = BinaryPrimitives.ReadInt64LittleEndian(_data.Slice(_position, 8));
        _position += 8;
        return v;
    }

    public ReadOnlySpan<byte> Bytes(int count)
    {
        var s = _data.Slice(_position, count);
        _position += count;
        return s;
    }

    public string Str() => Encoding.UTF8.GetString(Bytes(U16()));

    /// <summary>The next byte, without moving past it.</summary>
    public readonly byte Peek() => _data[_position];

    public ulong U64()
    {
        var value = BinaryPrimitives.ReadUInt64LittleEndian(_data[_position..]);
        _position += 8;
        return value;
    }

    public UInt128 U128()
    {
        var value = BinaryPrimitives.ReadUInt128LittleEndian(_data[_position..]);
        _position += 16;
        return value;
    }

    public void Skip(int count)
    {
        _ = _data.Slice(_position, count);
        _position += count;
    }
}

/// <summary>Structural checks of an encoded batch, done before any command is applied, so a batch is
/// either understood whole or refused whole.</summary>
public static class BatchFormat
{
    public static long ReadNowMs(ReadOnlySpan<byte> batch) => BinaryPrimitives.ReadInt64LittleEndian(batch);

    public static int ReadCommandCount(ReadOnlySpan<byte> batch) => BinaryPrimitives.ReadInt32LittleEndian(batch[8..]);

    /// <summary>Throws <see cref="MalformedBatchException"/> unless <paramref name="batch"/> is a complete,
    /// well-formed batch whose size and command count are within <see cref="Limits"/>.</summary>
    public static void Validate(ReadOnlySpan<byte> batch)
    {
        var none = default(NoLineVisitor);
        Validate(batch, ref none);
    }

    /// <summary>True when every command of a well-formed batch is a placement, a tick or keyed: applying such a batch
    /// a second time changes nothing (an order id is placed once, a repeat is refused as a duplicate; a keyed command
    /// is answered again from its key), so a batch whose fate is unknown may be sent again.</summary>
    public static bool IsRepeatSafe(ReadOnlySpan<byte> batch)
    {
        var count = ReadCommandCount(batch);
        var body = batch[CommandWriter.BatchHeaderBytes..];
        var reader = new CommandReader(body);
        var none = default(NoLineVisitor);
        for (var i = 0; i < count; i++)
        {
            // A keyed command of any kind is answered once per key: a repeat gets the first answer.
            if ((CommandKind)body[reader.Position] is not (CommandKind.PlaceOrder or CommandKind.Tick or CommandKind.Keyed))
            {
                return false;
            }
            SkipCommand(ref reader, i, ref none);
        }
        return true;
    }

    /// <summary>Validates like <see cref="Validate(ReadOnlySpan{byte})"/> and shows every new order's id and
    /// every order line's SKU to <paramref name="visitor"/> on the way.</summary>
    public static void Validate<TVisitor>(ReadOnlySpan<byte> batch, ref TVisitor visitor) where TVisitor : struct, ILineVisitor
    {
        if (batch.Length < CommandWriter.BatchHeaderBytes || batch.Length > Limits.BatchBytesMax)
        {
            throw new MalformedBatchException($"batch of {batch.Length} bytes is outside [{CommandWriter.BatchHeaderBytes}, {Limits.BatchBytesMax}]");
        }
        var count = ReadCommandCount(batch);
        if (count < 0 || count > Limits.CommandsPerBatchMax)
        {
            throw new MalformedBatchException($"command count {count} is outside [0, {Limits.CommandsPerBatchMax}]");
        }
        var reader = new CommandReader(batch[CommandWriter.BatchHeaderBytes..]);
        try
        {
            for (var i = 0; i < count; i++)
            {
                SkipCommand(ref reader, i, ref visitor);
            }
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            throw new MalformedBatchException($"batch ends inside command {reader.Position}");
        }
        if (!reader.AtEnd)
        {
            throw new MalformedBatchException($"{batch.Length - CommandWriter.BatchHeaderBytes - reader.Position} trailing bytes after {count} commands");
        }
    }

    /// <summary>Moves <paramref name="reader"/> (over a well-formed batch's commands, after its header) past command
    /// <paramref name="index"/>: the bytes between the positions before and after are that command, whole.</summary>
    public static void NextCommand(ref CommandReader reader, int index)
    {
        var none = default(NoLineVisitor);
        SkipCommand(ref reader, index, ref none);
    }

    /// <summary>Like <see cref="NextCommand(ref CommandReader, int)"/>, showing a placement's id and lines to
    /// <paramref name="visitor"/> (a keyed placement's too).</summary>
    public static void NextCommand<TVisitor>(ref CommandReader reader, int index, ref TVisitor visitor) where TVisitor : struct, ILineVisitor =>
        SkipCommand(ref reader, index, ref visitor);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void SkipCommand<TVisitor>(ref CommandReader reader, int index, ref TVisitor visitor) where TVisitor : struct, ILineVisitor =>
        SkipBody(ref reader, (CommandKind)reader.U8(), index, ref visitor);

    /// <summary>Moves past the body of a command of <paramref name="kind"/> (its kind byte already read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void SkipBody<TVisitor>(ref CommandReader reader, CommandKind kind, int index, ref TVisitor visitor) where TVisitor : struct, ILineVisitor
    {
        switch (kind)
        {
            case CommandKind.PlaceOrder:
                visitor.Order(reader.I64());
                reader.Skip(8 * 4 + 4 + 2);
                for (int lines = reader.U8(); lines > 0; lines--)
                {
                    visitor.Line(reader.I32());
                    reader.Skip(4);
                }
                break;
            case CommandKind.ConfirmPayment:
                reader.Skip(8);
                break;
            case CommandKind.CancelOrder:
            case CommandKind.AdvanceStatus:
                reader.Skip(9);
                break;
            case CommandKind.ReceiveStock:
            case CommandKind.AdjustStock:
                reader.Skip(12);
                break;
            case CommandKind.Tick:
                break;
            case CommandKind.ConfigureFlashSale:
                reader.Skip(16);
                break;
            case CommandKind.ConfigureRetention:
                reader.Skip(9);
                break;
            case CommandKind.UpsertWarehouse:
                SkipText(ref reader);
                SkipText(ref reader);
                reader.Skip(2);
                break;
            case CommandKind.UpsertSku:
                reader.Skip(8);
                SkipText(ref reader);
                SkipText(ref reader);
                SkipText(ref reader);
                reader.Skip(16 + 2 + 8 + 3);
                break;
            case CommandKind.Keyed:
                reader.Skip(CommandWriter.KeyedPrefixBytes - 1);
                if ((CommandKind)reader.Peek() is CommandKind.Keyed or CommandKind.Tick)
                {
                    throw new MalformedBatchException($"command {index}: a key prefixes a command, not {(CommandKind)reader.Peek()}");
                }
                SkipCommand(ref reader, index, ref visitor);
                break;
            default:
                throw new MalformedBatchException($"command {index} has unknown kind {(byte)kind}");
        }
    }

    private static void SkipText(ref CommandReader reader)
    {
        var length = reader.U16();
        if (length > Limits.TextBytesMax)
        {
            throw new MalformedBatchException($"text of {length} bytes exceeds {Limits.TextBytesMax}");
        }
        reader.Skip(length);
    }
}

/// <summary>Sees the id of every new order and the SKU of every order line while a batch is validated.</summary>
public interface ILineVisitor
{
    void Order(long orderId);

    void Line(int sku);
}

internal struct NoLineVisitor : ILineVisitor
{
    public readonly void Order(long orderId)
    {
    }

    public readonly void Line(int sku)
    {
    }
}

public sealed class MalformedBatchException(string message) : Exception(message);
