namespace Surge.Application;

/// <summary>A webhook subscription: a seller's (its orders only) or a storefront's or admin's (every order),
/// for the listed event types; deliveries are signed with <see cref="Secret"/> (Standard Webhooks).</summary>
public sealed record Subscription(long Id, Role Owner, long SellerId, string? Url, string Secret, IReadOnlyList<string> EventTypes,
    string? Email = null, string Language = "en")
{
    public bool Sees(long seller) => Owner != Role.Seller || SellerId == seller;
}

/// <summary>Who a request speaks for, from its bearer key.</summary>
public enum Role
{
    Admin,
    Storefront,
    Seller,
}

public readonly record struct Principal(Role Role, long SellerId);
