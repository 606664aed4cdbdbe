// The seller centre: a client of the public /v1 API with the seller's own key (kept in this tab's sessionStorage only).
// Every view reads and writes through the same routes any other client uses; nothing here is privileged.
(() => {
  const $ = id => document.getElementById(id);
  const LiveEveryMs = 2000; // how often a live view (orders, flash sales) asks again
  const words = window.SURGE_I18N;
  const state = { key: sessionStorage.getItem("surge.seller.key"), me: null, warehouses: [], skus: [], skusNext: null, ordersNext: null,
    order: null, forecast: null, chart: null, timer: null };

  // ---- language ----
  const pickLanguage = () => {
    const saved = localStorage.getItem("surge.lang");
    if (saved && words[saved]) return saved;
    for (const l of navigator.languages || [navigator.language || "en"]) {
      const base = l.toLowerCase().slice(0, 2);
      if (words[base]) return base;
    }
    return "en";
  };
  let lang = pickLanguage();
  const t = (key, values) => {
    let text = (words[lang] && words[lang][key]) ?? words.en[key] ?? key;
    for (const [k, v] of Object.entries(values || {})) text = text.replace(`{${k}}`, v);
    return text;
  };
  const locale = () => ({ en: "en-US", ko: "ko-KR", zh: "zh-CN" })[lang];
  function translate() {
    document.documentElement.lang = { en: "en", ko: "ko", zh: "zh-CN" }[lang];
    document.title = t("brand");
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    $("lang").value = lang;
  }
  $("lang").addEventListener("change", () => {
    lang = $("lang").value;
    localStorage.setItem("surge.lang", lang);
    translate();
    route();
  });

  // ---- money: the SKU's currency with its own minor units (KRW 0, CNY 2, …) ----
  const digits = currency => new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  const money = (minor, currency) => new Intl.NumberFormat(locale(), { style: "currency", currency })
    .format(minor / Math.pow(10, digits(currency)));
  const toMinor = (text, currency) => {
    const clean = String(text).replace(/[\s,₩¥$€£元원]/g, "");
    if (!/^\d+(\.\d+)?$/.test(clean)) return null;
    const [whole, fraction = ""] = clean.split(".");
    const d = digits(currency);
    if (fraction.length > d) return null;
    return Number(whole + fraction.padEnd(d, "0"));
  };
  const number = n => new Intl.NumberFormat(locale()).format(n);
  const when = iso => iso ? new Date(iso).toLocaleString(locale()) : "";

  // ---- the API ----
  class ApiError extends Error { constructor(status, body) { super(body?.detail || `HTTP ${status}`); this.status = status; this.body = body; } }
  async function api(method, path, body, headers = {}) {
    const init = { method, headers: { Authorization: `Bearer ${state.key}`, ...headers } };
    if (body instanceof Blob || body instanceof ArrayBuffer) init.body = body;
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    if (method !== "GET") init.headers["Idempotency-Key"] = crypto.randomUUID();
    const answer = await fetch(path, init);
    const type = answer.headers.get("Content-Type") || "";
    const parsed = type.includes("json") ? await answer.json() : await answer.text();
    if (answer.status === 401 && state.me) { signOut(); }
    if (!answer.ok) throw new ApiError(answer.status, parsed);
    return parsed;
  }
  function say(text, bad = false) { $("message").textContent = text; $("message").className = bad ? "bad" : "good"; }
  const failed = e => say(`${t("error")}: ${e.message}`, true);

  function cell(row, content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content); else td.textContent = content ?? "";
    row.appendChild(td);
    return td;
  }
  function button(label, onClick, cls) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = label; if (cls) b.className = cls;
    b.addEventListener("click", onClick);
    return b;
  }

  // ---- sign in / out ----
  async function signIn(key) {
    state.key = key;
    try {
      const me = await api("GET", "/v1/me");
      if (me.role !== "seller") { state.key = null; say(t("notSeller"), true); return false; }
      state.me = me;
      sessionStorage.setItem("surge.seller.key", key);
      $("who").textContent = `${me.name} (${me.seller_id})`;
      state.warehouses = (await api("GET", "/v1/warehouses")).warehouses.map(w => w.id);
      for (const select of document.querySelectorAll("select.warehouses")) select.replaceChildren(...state.warehouses.map(w => new Option(w, w)));
      return true;
    } catch (e) {
      state.key = null;
      sessionStorage.removeItem("surge.seller.key");
      say(e.status === 401 ? t("badKey") : `${t("error")}: ${e.message}`, true);
      return false;
    }
  }
  function signOut() {
    state.key = null; state.me = null;
    sessionStorage.removeItem("surge.seller.key");
    $("who").textContent = "";
    location.hash = "";
    route();
  }
  $("sign-out").addEventListener("click", signOut);
  $("signin-form").addEventListener("submit", async e => {
    e.preventDefault();
    if (await signIn($("key").value.trim())) { $("key").value = ""; say(""); location.hash = "#catalog"; route(); }
  });

  // ---- views ----
  const views = ["signin", "catalog", "stock", "orders", "forecast", "flash", "integrations"];
  function show(view) {
    for (const v of views) $(`view-${v}`).hidden = v !== view;
    for (const a of document.querySelectorAll("#nav a")) a.setAttribute("aria-current", a.dataset.view === view ? "page" : "false");
    $("nav").hidden = view === "signin";
    $("sign-out").hidden = view === "signin";
    if (state.timer) { clearInterval(state.timer); state.timer = null; }
  }
  async function route() {
    if (!state.me) { show("signin"); return; }
    const [view, arg] = location.hash.replace(/^#/, "").split("/");
    const name = views.includes(view) && view !== "signin" ? view : "catalog";
    show(name);
    say(""); // a message belongs to the view it was said in
    try {
      if (name === "catalog") await loadSkus(true);
      if (name === "stock") await showStock();
      if (name === "orders") {
        $("order-detail").hidden = true;
        await loadOrders(true);
        if (arg) await showOrder(decodeURIComponent(arg));
        // Live: new orders and status changes show up without a reload (the open order's detail too).
        state.timer = setInterval(() => {
          (async () => {
            if (!state.ordersMore) await loadOrders(true);
            if (arg) await showOrder(decodeURIComponent(arg));
          })().catch(() => {});
        }, LiveEveryMs);
      }
      if (name === "forecast") await showForecast();
      if (name === "flash") await showFlash();
      if (name === "integrations") await loadWebhooks();
    } catch (e) { failed(e); }
  }
  window.addEventListener("hashchange", route);

  // ---- catalog ----
  async function allSkus() {
    const all = [];
    let cursor = null;
    do {
      const page = await api("GET", `/v1/skus?limit=500${cursor ? `&cursor=${cursor}` : ""}`);
      all.push(...page.skus);
      cursor = page.next_cursor;
    } while (cursor);
    state.skus = all;
    return all;
  }
  async function loadSkus(first) {
    const q = $("search").value.trim();
    const page = await api("GET", `/v1/skus?limit=100${q ? `&q=${encodeURIComponent(q)}` : ""}${!first && state.skusNext ? `&cursor=${state.skusNext}` : ""}`);
    state.skusNext = page.next_cursor;
    $("skus-more").hidden = !page.next_cursor;
    const body = $("skus").tBodies[0];
    if (first) body.replaceChildren();
    for (const s of page.skus) {
      const tr = document.createElement("tr");
      tr.dataset.sku = s.sku;
      cell(tr, s.sku); cell(tr, s.title); cell(tr, money(s.price_minor, s.currency));
      const category = cell(tr, s.category);
      const suggestion = s.category_suggestion;
      if (suggestion && suggestion.pending) category.append(` (${t("pending")})`);
      else if (suggestion && suggestion.category) {
        const note = document.createElement("small");
        note.textContent = ` ${t("suggested")} · ${t("confidence")} ${Math.round(suggestion.confidence * 100)} %${suggestion.needs_review ? " · " + t("needsReview") : ""}`;
        category.appendChild(note);
        // Accept writes the suggestion as the seller's own choice; Edit overrides it with another.
        if (suggestion.needs_review) category.appendChild(button(t("accept"), () => acceptCategory(s, suggestion.category)));
      }
      cell(tr, number(s.available));
      cell(tr, button(t("edit"), () => editSku(s)));
      body.appendChild(tr);
    }
    if (first && page.skus.length === 0) { const tr = document.createElement("tr"); cell(tr, t("nothing")).colSpan = 6; body.appendChild(tr); }
  }
  $("search-form").addEventListener("submit", e => { e.preventDefault(); loadSkus(true).catch(failed); });
  $("skus-more").addEventListener("click", () => loadSkus(false).catch(failed));
  async function acceptCategory(s, category) {
    try {
      await api("POST", "/v1/skus", { sku: s.sku, title: s.title, price_minor: s.price_minor, currency: s.currency, weight_g: s.weight_g,
        temperature: s.temperature, hazmat: s.hazmat, category, dimensions_mm: s.dimensions_mm ?? null });
      say(t("accepted"));
      await loadSkus(true);
    } catch (e) { failed(e); }
  }
  function editSku(s) {
    const f = $("sku-form");
    f.sku.value = s.sku; f.title.value = s.title; f.currency.value = s.currency;
    f.price.value = (s.price_minor / Math.pow(10, digits(s.currency))).toFixed(digits(s.currency));
    f.weight_g.value = s.weight_g; f.temperature.value = s.temperature; f.hazmat.checked = s.hazmat; f.category.value = s.category;
    state.editing = s; // what the form does not show (dimensions) is sent back as it was
    $("sku-editor").open = true;
    f.title.focus();
  }
  $("sku-form").addEventListener("submit", async e => {
    e.preventDefault();
    const f = e.target;
    const currency = f.currency.value.trim().toUpperCase();
    const priceMinor = toMinor(f.price.value, currency);
    if (priceMinor === null) { say(`${t("error")}: ${t("price")} '${f.price.value}'`, true); return; }
    try {
      await api("POST", "/v1/skus", { sku: f.sku.value.trim(), title: f.title.value.trim(), price_minor: priceMinor, currency,
        weight_g: Number(f.weight_g.value), temperature: f.temperature.value, hazmat: f.hazmat.checked, category: f.category.value.trim() || null,
        dimensions_mm: state.editing?.sku === f.sku.value.trim() ? state.editing.dimensions_mm ?? null : null });
      say(t("saved"));
      f.reset();
      state.editing = null;
      $("sku-editor").open = false;
      await loadSkus(true);
    } catch (err) { failed(err); }
  });
  $("import-form").addEventListener("submit", async e => {
    e.preventDefault();
    const file = $("import-file").files[0];
    if (!file) return;
    const type = file.name.toLowerCase().endsWith(".xlsx") ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv";
    try {
      say(t("loading"));
      const report = await api("POST", `/v1/skus/import?currency=${$("import-currency").value}`, file, { "Content-Type": type });
      say("");
      $("import-summary").textContent = t("importSummary", report);
      const body = $("import-report").tBodies[0];
      body.replaceChildren(...report.report.map(r => {
        const tr = document.createElement("tr");
        tr.className = r.status;
        tr.dataset.row = r.row;
        cell(tr, r.row); cell(tr, r.sku); cell(tr, t(r.status));
        cell(tr, [r.detail, ...(r.notes || [])].filter(Boolean).join("; "));
        return tr;
      }));
      $("import-report").hidden = false;
      await loadSkus(true);
    } catch (err) { failed(err); }
  });

  // ---- stock ----
  async function showStock() {
    const skus = await allSkus();
    const select = $("stock-sku");
    const keep = select.value;
    select.replaceChildren(...skus.map(s => new Option(`${s.sku} — ${s.title}`, s.sku)));
    if (keep && skus.some(s => s.sku === keep)) select.value = keep;
    await drawStock();
    await lowStock();
  }
  async function drawStock() {
    const sku = $("stock-sku").value;
    if (!sku) { $("stock-table").tBodies[0].replaceChildren(); return; }
    const stock = await api("GET", `/v1/skus/${encodeURIComponent(sku)}/stock`);
    $("stock-table").tBodies[0].replaceChildren(...stock.warehouses.map(w => {
      const tr = document.createElement("tr");
      tr.dataset.warehouse = w.warehouse_id;
      for (const v of [w.warehouse_id, number(w.on_hand), number(w.reserved), number(w.available), number(w.sold)]) cell(tr, v);
      return tr;
    }));
  }
  async function lowStock() {
    const forecast = await loadForecast();
    const soon = forecast.skus.filter(s => s.stockout_week);
    $("low-stock").replaceChildren(...(soon.length ? soon.map(s => {
      const li = document.createElement("li");
      li.textContent = t("lowStockLine", { sku: s.sku, available: number(s.available), week: s.stockout_week, units: number(Math.ceil(s.reorder_units || 0)) });
      return li;
    }) : [Object.assign(document.createElement("li"), { textContent: t("noLowStock") })]));
  }
  $("stock-sku").addEventListener("change", () => drawStock().catch(failed));
  for (const [form, path, read] of [["receive-form", "/v1/stock/receipts", f => ({ quantity: Number(f.quantity.value) })],
    ["adjust-form", "/v1/stock/adjustments", f => ({ delta: Number(f.delta.value), reason: f.reason.value })]]) {
    $(form).addEventListener("submit", async e => {
      e.preventDefault();
      try {
        await api("POST", path, { sku: $("stock-sku").value, warehouse_id: e.target.warehouse_id.value, ...read(e.target) });
        say(t("saved"));
        e.target.reset();
        await drawStock();
      } catch (err) { failed(err); }
    });
  }

  // ---- orders ----
  function orderQuery() {
    const f = $("orders-filter");
    const q = new URLSearchParams();
    if (f.status.value) q.set("status", f.status.value);
    if (f.from.value) q.set("from", new Date(f.from.value + "T00:00:00").toISOString());
    if (f.to.value) q.set("to", new Date(new Date(f.to.value + "T00:00:00").getTime() + 86400000).toISOString());
    if (f.buyer_id.value.trim()) q.set("buyer_id", f.buyer_id.value.trim());
    if (f.sku.value.trim()) q.set("sku", f.sku.value.trim());
    return q;
  }
  async function loadOrders(first) {
    const q = orderQuery();
    q.set("limit", "50");
    if (!first && state.ordersNext) q.set("cursor", state.ordersNext);
    const page = await api("GET", `/v1/sellers/${state.me.seller_id}/orders?${q}`);
    state.ordersNext = page.next_cursor;
    state.ordersMore = !first;
    $("orders-more").hidden = !page.next_cursor;
    $("orders-freshness").textContent = page.freshness && page.freshness.lag_records > 0
      ? t("lag", { records: number(page.freshness.lag_records) }) : t("upToDate");
    const body = $("orders-table").tBodies[0];
    if (first) body.replaceChildren();
    for (const o of page.orders) {
      const tr = document.createElement("tr");
      tr.dataset.order = o.order_id;
      const link = document.createElement("a");
      link.href = `#orders/${encodeURIComponent(o.order_id)}`;
      link.textContent = o.order_id;
      cell(tr, link); cell(tr, when(o.placed_at)); cell(tr, t(o.status)).className = `status-${o.status}`;
      cell(tr, o.lines.map(l => `${l.sku} × ${l.quantity}`).join(", "));
      cell(tr, o.amount_minor != null && o.currency ? money(o.amount_minor, o.currency) : "");
      body.appendChild(tr);
    }
    if (first && page.orders.length === 0) { const tr = document.createElement("tr"); cell(tr, t("nothing")).colSpan = 5; body.appendChild(tr); }
  }
  $("orders-filter").addEventListener("submit", e => { e.preventDefault(); loadOrders(true).catch(failed); });
  $("orders-more").addEventListener("click", () => loadOrders(false).catch(failed));
  $("orders-export").addEventListener("click", async () => {
    try {
      const answer = await fetch(`/v1/sellers/${state.me.seller_id}/orders/export?${orderQuery()}`, { headers: { Authorization: `Bearer ${state.key}` } });
      if (!answer.ok) throw new ApiError(answer.status, await answer.json());
      const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(await answer.blob()), download: `${state.me.seller_id}-orders.csv` });
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (e) { failed(e); }
  });
  async function showOrder(id) {
    const order = await api("GET", `/v1/orders/${encodeURIComponent(id)}`);
    state.order = order;
    $("order-detail").hidden = false;
    $("order-title").textContent = `${t("order")} ${order.id}`;
    $("order-status").textContent = `${t(order.status)} · ${t("placed")} ${when(order.placed_at)}`;
    $("order-status").dataset.status = order.status;
    const lines = [], shipments = [];
    for (const so of order.seller_orders) {
      for (const l of so.lines) lines.push(`${l.sku} × ${l.quantity} (${l.warehouse_id}) — ${t(so.status)}`);
      for (const s of so.shipments || []) shipments.push(s);
    }
    $("order-lines").replaceChildren(...lines.map(text => Object.assign(document.createElement("li"), { textContent: text })));
    $("order-shipments").replaceChildren(...shipments.map(s => {
      const box = document.createElement("div");
      box.className = "shipment";
      const head = document.createElement("p");
      head.textContent = `${s.id} · ${s.carrier_id ?? "—"} · ${s.tracking_number ?? ""} · ${t(s.status) }`;
      const list = document.createElement("ol");
      list.className = "timeline";
      list.replaceChildren(...s.tracking.map(e => Object.assign(document.createElement("li"), { textContent: `${when(e.at)} — ${t(e.status)}${e.description ? ": " + e.description : ""}` })));
      box.append(head, list);
      return box;
    }));
    $("order-cancel").hidden = !order.seller_orders.every(so => so.status === "pending_payment" || so.status === "paid");
  }
  $("order-cancel").addEventListener("click", async () => {
    if (!state.order || !confirm(t("confirmCancel"))) return;
    try {
      await api("POST", `/v1/orders/${encodeURIComponent(state.order.id)}/cancel`, {});
      say(t("cancelled"));
      await showOrder(state.order.id);
      await loadOrders(true);
    } catch (e) { failed(e); }
  });

  // ---- forecast & reorder ----
  async function loadForecast() {
    const lead = Number($("lead-time").value) || 0, level = Number($("service-level").value) || 0.95;
    state.forecast = await api("GET", `/v1/sellers/${state.me.seller_id}/forecast?lead_time_weeks=${lead}&service_level=${level}`);
    return state.forecast;
  }
  async function showForecast() {
    const forecast = await loadForecast();
    const select = $("forecast-sku");
    const keep = select.value;
    select.replaceChildren(...forecast.skus.map(s => new Option(s.sku, s.sku)));
    const first = forecast.skus.find(s => s.sku === keep) || forecast.skus.find(s => s.forecast) || forecast.skus[0];
    if (first) select.value = first.sku;
    drawForecast();
  }
  function drawForecast() {
    const plan = state.forecast?.skus.find(s => s.sku === $("forecast-sku").value);
    const facts = $("forecast-facts");
    facts.replaceChildren();
    const fact = (term, value) => { const dt = document.createElement("dt"); dt.textContent = term; const dd = document.createElement("dd"); dd.textContent = value; facts.append(dt, dd); };
    if (state.chart) { state.chart.destroy(); state.chart = null; }
    if (!plan) return;
    if (plan.problem || !plan.forecast) { fact(t("forecast"), `${t("tooLittle")} (${plan.problem ?? ""})`); return; }
    fact(t("model"), plan.model);
    fact(t("available"), number(plan.available));
    fact(t("stockoutWeek"), plan.stockout_week ?? t("notWithin"));
    fact(t("reorder"), number(Math.ceil(plan.reorder_units ?? 0)));
    const week = w => Date.parse(w + "T00:00:00Z") / 1000;
    const h = plan.history, f = plan.forecast;
    const data = [[...h.map(x => week(x.week)), ...f.map(x => week(x.week))],
      [...h.map(x => x.units), ...f.map(() => null)], [...h.map(() => null), ...f.map(x => x.mean)],
      [...h.map(() => null), ...f.map(x => x.lower95)], [...h.map(() => null), ...f.map(x => x.upper95)]];
    const el = $("forecast-chart");
    state.chart = new uPlot({ width: Math.max(280, el.clientWidth), height: 240, series: [{},
      { label: t("history"), stroke: "#2e7d32", width: 2 }, { label: t("forecastLine"), stroke: "#1565c0", width: 2, dash: [6, 4] },
      { label: t("low95"), stroke: "#90caf9", width: 1 }, { label: t("high95"), stroke: "#90caf9", width: 1 }],
      bands: [{ series: [4, 3], fill: "rgba(21,101,192,0.12)" }] }, data, el);
  }
  $("forecast-sku").addEventListener("change", drawForecast);
  $("forecast-form").addEventListener("submit", e => { e.preventDefault(); showForecast().catch(failed); });

  // ---- flash sales: sold / held / left, live ----
  async function showFlash() {
    const skus = await allSkus();
    $("flash-sku").replaceChildren(...skus.map(s => new Option(`${s.sku} — ${s.title}`, s.sku)));
    await drawFlash();
    state.timer = setInterval(() => drawFlash().catch(() => {}), LiveEveryMs);
  }
  async function drawFlash() {
    const on = (await allSkus()).filter(s => s.flash_sale);
    $("flash-table").tBodies[0].replaceChildren(...on.map(s => {
      const tr = document.createElement("tr");
      tr.dataset.sku = s.sku;
      for (const v of [s.sku, when(s.flash_sale.starts_at), number(s.sold), number(s.reserved), number(s.available)]) cell(tr, v);
      tr.lastChild.className = "left";
      return tr;
    }));
  }
  $("flash-form").addEventListener("submit", async e => {
    e.preventDefault();
    const f = e.target;
    try {
      await api("POST", "/v1/flash-sales", { sku: f.sku.value, starts_at: new Date(f.starts_at.value).toISOString(), per_buyer_limit: Number(f.per_buyer_limit.value) });
      say(t("saved"));
      await drawFlash();
    } catch (err) { failed(err); }
  });

  // ---- integrations: webhooks and the key ----
  async function loadWebhooks() {
    const list = await api("GET", "/v1/webhooks");
    $("webhooks-table").tBodies[0].replaceChildren(...list.webhooks.map(w => {
      const tr = document.createElement("tr");
      tr.dataset.webhook = w.id;
      for (const v of [w.id, w.url ?? w.email, number(w.delivered ?? 0), number(w.pending ?? 0), number(w.dead_letters ?? 0)]) cell(tr, v);
      const actions = cell(tr, button(t("deliveries"), () => showDeliveries(w.id).catch(failed)));
      actions.appendChild(button(t("redrive"), async () => {
        try { await api("POST", `/v1/webhooks/${w.id}/redrive`, {}); await loadWebhooks(); } catch (e) { failed(e); }
      }));
      actions.appendChild(button(t("remove"), async () => {
        try { await api("DELETE", `/v1/webhooks/${w.id}`); await loadWebhooks(); } catch (e) { failed(e); }
      }, "danger"));
      return tr;
    }));
  }
  async function showDeliveries(id) {
    const list = await api("GET", `/v1/webhooks/${id}/deliveries?limit=50`);
    $("deliveries-of").textContent = id;
    $("deliveries-title").hidden = false;
    $("deliveries").hidden = false;
    $("deliveries").tBodies[0].replaceChildren(...list.deliveries.map(d => {
      const tr = document.createElement("tr");
      tr.className = d.state === "dead_letter" ? "refused" : "";
      tr.dataset.state = d.state;
      for (const v of [d.type, d.order_id, when(d.at), t("d_" + d.state), d.reason ?? ""]) cell(tr, v);
      return tr;
    }));
  }
  $("webhook-form").addEventListener("submit", async e => {
    e.preventDefault();
    const f = e.target;
    const body = { event_types: ["order.placed", "order.paid", "order.cancelled", "order.dispatched", "order.delivered"], language: f.language.value };
    if (f.url.value.trim()) body.url = f.url.value.trim(); else body.email = f.email.value.trim();
    try {
      const created = await api("POST", "/v1/webhooks", body);
      say(created.secret ? t("secretOnce", { secret: created.secret }) : t("saved"));
      f.reset();
      await loadWebhooks();
    } catch (err) { failed(err); }
  });
  $("rotate-key").addEventListener("click", async () => {
    if (!confirm(t("confirmRotate"))) return;
    try {
      const answer = await api("POST", "/v1/keys/rotate", {});
      state.key = answer.api_key;
      sessionStorage.setItem("surge.seller.key", answer.api_key);
      $("rotated").textContent = t("rotated", { key: answer.api_key, until: when(answer.previous_key_expires_at) });
    } catch (e) { failed(e); }
  });

  // ---- start ----
  translate();
  (async () => {
    // A sign-in link (the demo prints one) carries the key in the fragment, which never reaches a server or its logs;
    // it is taken into this tab and wiped from the address bar and the history at once.
    const given = /^#key=([A-Za-z0-9_\-]+)$/.exec(location.hash);
    if (given) {
      history.replaceState(null, "", location.pathname + "#catalog");
      state.key = given[1];
    }
    if (state.key) await signIn(state.key);
    route();
  })();
})();
