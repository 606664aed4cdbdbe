// The buyer's tracking page: the order's timeline, live over Server-Sent Events, in Korean, Simplified Chinese or English
// (the browser's first language of the three; ?lang=ko|zh|en chooses).
(() => {
  const words = {
    en: { title: "Track your order", ended: "This order's journey is complete.", lost: "Connection lost, reconnecting…", locale: "en-GB",
      status: { placed: "Placed", paid: "Paid", shipment_planned: "Being packed", handed_to_carrier: "With the carrier", in_transit: "In transit",
        out_for_delivery: "Out for delivery", delivered: "Delivered", cancelled: "Cancelled", exception: "Delivery problem",
        attempt_fail: "Attempt failed", available_for_pickup: "Ready for pickup", info_received: "Carrier informed", pending: "Pending", expired: "Expired" } },
    ko: { title: "주문 배송 조회", ended: "배송 조회가 끝났습니다.", lost: "연결이 끊겼습니다. 다시 연결하는 중…", locale: "ko-KR",
      status: { placed: "주문 접수", paid: "결제 완료", shipment_planned: "상품 준비 중", handed_to_carrier: "택배사 인계", in_transit: "배송 중",
        out_for_delivery: "배송 출발", delivered: "배송 완료", cancelled: "주문 취소", exception: "배송 문제", attempt_fail: "배송 시도 실패",
        available_for_pickup: "픽업 가능", info_received: "택배사 접수", pending: "대기", expired: "조회 만료" } },
    zh: { title: "订单物流查询", ended: "此订单的配送已结束。", lost: "连接中断，正在重新连接…", locale: "zh-CN",
      status: { placed: "已下单", paid: "已付款", shipment_planned: "备货中", handed_to_carrier: "已交快递", in_transit: "运输中",
        out_for_delivery: "派送中", delivered: "已签收", cancelled: "已取消", exception: "配送异常", attempt_fail: "派送未成功",
        available_for_pickup: "待取件", info_received: "快递已接单", pending: "等待中", expired: "查询已过期" } },
  };
  const pick = () => {
    const asked = new URLSearchParams(location.search).get("lang");
    if (asked && words[asked]) return asked;
    for (const tag of navigator.languages || [navigator.language || "en"]) {
      const t = tag.toLowerCase();
      if (t.startsWith("ko")) return "ko";
      if (t.startsWith("zh") && !/hant|tw|hk|mo/.test(t)) return "zh";
      if (t.startsWith("en")) return "en";
    }
    return "en";
  };
  const lang = pick();
  const w = words[lang];
  document.documentElement.lang = lang === "zh" ? "zh-CN" : lang;
  const token = decodeURIComponent(location.pathname.split("/").pop());
  const $ = id => document.getElementById(id);
  $("title").textContent = w.title;
  document.title = w.title;
  const when = ms => new Date(ms).toLocaleString(w.locale, { dateStyle: "medium", timeStyle: "short" });

  const source = new EventSource(`/v1/track/${encodeURIComponent(token)}/events?lang=${lang}`);
  source.addEventListener("timeline", e => {
    const step = JSON.parse(e.data);
    const li = document.createElement("li");
    li.dataset.status = step.status;
    const text = document.createElement("div");
    text.textContent = step.message;
    li.appendChild(text);
    if (step.at) {
      const time = document.createElement("time");
      time.dateTime = step.at;
      time.textContent = when(Date.parse(step.at));
      li.appendChild(time);
    }
    $("timeline").appendChild(li);
    $("status").textContent = w.status[step.status] || step.status;
    $("status").dataset.status = step.status;
    $("note").textContent = "";
  });
  source.addEventListener("end", e => {
    const end = JSON.parse(e.data);
    $("status").textContent = w.status[end.status] || end.status;
    $("status").dataset.status = end.status;
    $("timeline").lastElementChild?.classList.add("final");
    $("note").textContent = w.ended;
    $("note").className = "good";
    source.close();
  });
  source.onerror = () => { if (source.readyState !== EventSource.CLOSED) $("note").textContent = w.lost; };
})();
