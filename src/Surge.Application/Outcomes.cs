using Surge.Core;

namespace Surge.Application;

/// <summary>Why a request was not done, in the domain's words. The host maps each to its protocol's answer in one
/// place (HTTP: 422, 404, 409, 429, 503).</summary>
public enum Refusal
{
    /// <summary>The request itself is wrong (a quantity out of range, too many sellers in one order).</summary>
    Invalid,

    /// <summary>No such order (or SKU, seller …).</summary>
    NotFound,

    /// <summary>The request conflicts with the state: not enough stock, a buyer limit, an order already on its way.</summary>
    Conflict,

    /// <summary>A partition's queue is full: retry shortly, other sellers are not affected.</summary>
    Busy,

    /// <summary>The node cannot take the work now (saturated, a partition failed, a deadline passed): retry.</summary>
    Unavailable,
}

/// <summary>A refusal with its stable code (<c>insufficient_stock</c>, <c>partition_overloaded</c> …) and a sentence for people.</summary>
public readonly record struct Problem(Refusal Kind, string Code, string Detail)
{
    /// <summary>The engine's rejection as a problem: an invalid argument is <see cref="Refusal.Invalid"/>, every other
    /// rejection a <see cref="Refusal.Conflict"/> with the partition's state.</summary>
    public static Problem Of(RejectReason reason, string? detail = null) =>
        new(reason is RejectReason.InvalidArgument or RejectReason.IdempotencyKeyReused ? Refusal.Invalid : Refusal.Conflict, reason.ToCode(), detail ?? Describe(reason));

    /// <summary>The request's deadline passed before the partitions answered; the work may still complete.</summary>
    public static Problem DeadlineExceeded(TimeSpan deadline) => new(Refusal.Unavailable, "deadline_exceeded",
        $"not answered within {deadline.TotalSeconds:0.###} s; it may still complete: retry with the same Idempotency-Key");

    public static string Describe(RejectReason reason) => reason switch
    {
        RejectReason.UnknownSku => "a SKU does not exist for this seller",
        RejectReason.InsufficientStock => "not enough stock available",
        RejectReason.LimitExceeded => "the per-buyer limit of a flash sale would be exceeded",
        RejectReason.SaleNotStarted => "the flash sale has not started",
        RejectReason.DuplicateOrder => "the order already exists",
        RejectReason.InvalidQuantity => "a quantity is out of range",
        RejectReason.OrderNotFound => "no such order",
        RejectReason.InvalidTransition => "the order is not in a state that allows this",
        RejectReason.CapacityExceeded => "the partition is full",
        RejectReason.IdempotencyKeyReused => "this idempotency key was used with a different request",
        RejectReason.OrderRetired => "the order is final and past its retention; it can be read, not changed",
        _ => "the request is invalid",
    };
}

/// <summary>Thrown by <see cref="IPartitions"/> at once when a command is not admitted: the partition's queue or the
/// node is full, or the partition is not serving. Nothing was queued.</summary>
public sealed class AdmissionException(Refusal kind, string code, string message) : Exception(message)
{
    public Refusal Kind { get; } = kind;
    public string Code { get; } = code;

    public Problem Problem => new(Kind, Code, Message);
}
