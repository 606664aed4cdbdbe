using System.Text;
using Surge.Core;

namespace Surge.Flow;

/// <summary>
/// The words buyers and merchants read for each status change, in English, Korean and Simplified Chinese. Templates are data: one
/// line per (language, key); <c>{name}</c> is replaced by the value of that name, and a template whose value is
/// missing falls back to the key's plain form (the template without a placeholder, <c>key.plain</c>).
/// </summary>
public static class Messages
{
    public const string English = "en";
    public const string Korean = "ko";

    /// <summary>Simplified Chinese (the buyers of Korean sellers in China).</summary>
    public const string Chinese = "zh";

    public static readonly IReadOnlyList<string> Languages = [English, Korean, Chinese];

    private static readonly Dictionary<(string Language, string Key), string> Templates = new()
    {
        [(English, "placed")] = "Order placed",
        [(Korean, "placed")] = "주문이 접수되었습니다",
        [(Chinese, "placed")] = "订单已提交",
        [(English, "paid")] = "Payment confirmed",
        [(Korean, "paid")] = "결제가 완료되었습니다",
        [(Chinese, "paid")] = "付款成功",
        [(English, "shipment_planned")] = "Packing at {warehouse}",
        [(Korean, "shipment_planned")] = "{warehouse}에서 상품을 준비하고 있습니다",
        [(Chinese, "shipment_planned")] = "{warehouse} 正在为您备货",
        [(English, "shipment_planned.plain")] = "Your order is being packed",
        [(Korean, "shipment_planned.plain")] = "상품을 준비하고 있습니다",
        [(Chinese, "shipment_planned.plain")] = "正在为您备货",
        [(English, "handed_to_carrier")] = "Handed to {carrier}, tracking number {tracking_number}",
        [(Korean, "handed_to_carrier")] = "{carrier}에 인계되었습니다. 운송장 번호 {tracking_number}",
        [(Chinese, "handed_to_carrier")] = "已交给 {carrier}，运单号 {tracking_number}",
        [(English, "handed_to_carrier.plain")] = "Handed to the carrier",
        [(Korean, "handed_to_carrier.plain")] = "택배사에 인계되었습니다",
        [(Chinese, "handed_to_carrier.plain")] = "已交给快递公司",
        [(English, "returned")] = "Returned",
        [(Korean, "returned")] = "반품되었습니다",
        [(Chinese, "returned")] = "已退货",
        [(English, "email.subject")] = "Order {order_id}: {message}",
        [(Korean, "email.subject")] = "주문 {order_id}: {message}",
        [(Chinese, "email.subject")] = "订单 {order_id}：{message}",
        [(English, "info_received")] = "The carrier has the shipment details",
        [(Korean, "info_received")] = "택배사가 배송 정보를 접수했습니다",
        [(Chinese, "info_received")] = "快递公司已收到发货信息",
        [(English, "pending")] = "Waiting for the carrier",
        [(Korean, "pending")] = "택배사 처리를 기다리고 있습니다",
        [(Chinese, "pending")] = "等待快递公司处理",
        [(English, "in_transit")] = "In transit",
        [(Korean, "in_transit")] = "배송 중입니다",
        [(Chinese, "in_transit")] = "运输中",
        [(English, "out_for_delivery")] = "Out for delivery",
        [(Korean, "out_for_delivery")] = "배송 출발했습니다",
        [(Chinese, "out_for_delivery")] = "派送中",
        [(English, "attempt_fail")] = "Delivery attempt failed; the carrier will try again",
        [(Korean, "attempt_fail")] = "배송 시도에 실패했습니다. 다시 배송할 예정입니다",
        [(Chinese, "attempt_fail")] = "派送未成功，快递员将再次派送",
        [(English, "available_for_pickup")] = "Ready for pickup",
        [(Korean, "available_for_pickup")] = "픽업할 수 있습니다",
        [(Chinese, "available_for_pickup")] = "可以取件了",
        [(English, "delivered")] = "Delivered",
        [(Korean, "delivered")] = "배송이 완료되었습니다",
        [(Chinese, "delivered")] = "已签收",
        [(English, "exception")] = "There is a problem with the delivery: {description}",
        [(Korean, "exception")] = "배송에 문제가 생겼습니다: {description}",
        [(Chinese, "exception")] = "配送出现问题：{description}",
        [(English, "exception.plain")] = "There is a problem with the delivery",
        [(Korean, "exception.plain")] = "배송에 문제가 생겼습니다",
        [(Chinese, "exception.plain")] = "配送出现问题",
        [(English, "expired")] = "Tracking has expired",
        [(Korean, "expired")] = "배송 조회 기간이 지났습니다",
        [(Chinese, "expired")] = "物流查询已过期",
        [(English, "cancelled")] = "Order cancelled",
        [(Korean, "cancelled")] = "주문이 취소되었습니다",
        [(Chinese, "cancelled")] = "订单已取消",
    };

    /// <summary>The template key of a seller-order status (what a merchant's e-mail says for it).</summary>
    public static string KeyOf(OrderStatus status) => status switch
    {
        OrderStatus.PendingPayment => "placed",
        OrderStatus.Allocated => "shipment_planned",
        OrderStatus.Dispatched => "handed_to_carrier",
        _ => status.ToCode(),
    };

    /// <summary>Every status-change key that has a template (the same in every language).</summary>
    public static IEnumerable<string> Keys => Templates.Keys.Where(k => k.Language == English && !k.Key.Contains('.', StringComparison.Ordinal)).Select(k => k.Key);

    /// <summary>The first of the buyer's languages that Surge speaks (an explicit choice, else Accept-Language in its
    /// order; zh-CN, zh-Hans, zh-SG and plain zh are Simplified Chinese), else "en".</summary>
    public static string Language(string? explicitChoice, string? acceptLanguage)
    {
        if (explicitChoice is not null)
        {
            return Known(explicitChoice.Trim()) ?? English;
        }
        foreach (var part in (acceptLanguage ?? "").Split(','))
        {
            if (Known(part.Split(';')[0].Trim()) is { } language)
            {
                return language;
            }
        }
        return English;
    }

    private static string? Known(string tag)
    {
        var primary = tag.Split('-', '_')[0];
        if (primary.Equals(Korean, StringComparison.OrdinalIgnoreCase))
        {
            return Korean;
        }
        if (primary.Equals(English, StringComparison.OrdinalIgnoreCase))
        {
            return English;
        }
        // Traditional Chinese (zh-TW, zh-HK, zh-Hant) is not spoken yet: those buyers read English rather than the wrong script.
        return primary.Equals(Chinese, StringComparison.OrdinalIgnoreCase)
            && !tag.Contains("Hant", StringComparison.OrdinalIgnoreCase) && !tag.EndsWith("TW", StringComparison.OrdinalIgnoreCase)
            && !tag.EndsWith("HK", StringComparison.OrdinalIgnoreCase) && !tag.EndsWith("MO", StringComparison.OrdinalIgnoreCase)
            ? Chinese : null;
    }

    /// <summary>The message for <paramref name="key"/> in <paramref name="language"/> (English when unknown), with
    /// the placeholders filled from <paramref name="values"/>.</summary>
    public static string Render(string language, string key, IReadOnlyDictionary<string, string?>? values = null)
    {
        language = Languages.Contains(language) ? language : English;
        if (!Templates.TryGetValue((language, key), out var template))
        {
            return key.Replace('_', ' ');
        }
        var output = new StringBuilder(template.Length + 32);
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i] == '{' && template.IndexOf('}', i) is var end and > 0)
            {
                var name = template[(i + 1)..end];
                if (values?.GetValueOrDefault(name) is not { Length: > 0 } value)
                {
                    return Templates.TryGetValue((language, key + ".plain"), out var plain) ? plain : template;
                }
                output.Append(value);
                i = end;
                continue;
            }
            output.Append(template[i]);
        }
        return output.ToString();
    }
}
