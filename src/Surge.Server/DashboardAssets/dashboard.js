// The operator dashboard: one sample a second from /dashboard/stream (Server-Sent Events), drawn with uPlot.
(() => {
  const keep = 120; // seconds of history in the charts
  const times = [], accepted = [], rejected = [], p50 = [], p99 = [];
  const $ = id => document.getElementById(id);
  const fmt = n => n >= 1000 ? Math.round(n).toLocaleString("en-US") : (Math.round(n * 10) / 10).toString();
  const size = el => ({ width: Math.max(280, el.clientWidth), height: 180 });
  const axes = [{ stroke: "#8a96ad", grid: { stroke: "#24304a" } }, { stroke: "#8a96ad", grid: { stroke: "#24304a" } }];
  const rateChart = new uPlot({ ...size($("chart-rate")), axes,
    series: [{}, { label: "accepted", stroke: "#66bb6a", width: 2 }, { label: "rejected", stroke: "#ef5350", width: 2 }] },
    [times, accepted, rejected], $("chart-rate"));
  const latencyChart = new uPlot({ ...size($("chart-latency")), axes,
    series: [{}, { label: "p50", stroke: "#4fc3f7", width: 2 }, { label: "p99", stroke: "#ffb74d", width: 2 }] },
    [times, p50, p99], $("chart-latency"));

  let forecastChart = null;
  function drawForecast(s) {
    const el = $("chart-forecast");
    if (!s.forecast_actual) {
      $("forecast-note").textContent = `collecting history: ${s.forecast_minutes_observed} of 10 whole minutes`;
      return;
    }
    $("forecast-note").textContent = "";
    const minutes = [...s.forecast_actual.map(m => m.minute_ms / 1000), ...s.forecast_ahead.map(f => f.minute_ms / 1000)];
    const actual = [...s.forecast_actual.map(m => m.orders), ...s.forecast_ahead.map(() => null)];
    const oneAhead = [...s.forecast_actual.map(m => m.forecast), ...s.forecast_ahead.map(f => f.mean)];
    const low = [...s.forecast_actual.map(() => null), ...s.forecast_ahead.map(f => f.lower95)];
    const high = [...s.forecast_actual.map(() => null), ...s.forecast_ahead.map(f => f.upper95)];
    const data = [minutes, actual, oneAhead, low, high];
    if (!forecastChart) {
      forecastChart = new uPlot({ ...size(el), axes, series: [{},
        { label: "actual", stroke: "#66bb6a", width: 2 },
        { label: "forecast", stroke: "#4fc3f7", width: 2, dash: [6, 4] },
        { label: "95 % low", stroke: "#4fc3f788", width: 1 },
        { label: "95 % high", stroke: "#4fc3f788", width: 1 }] }, data, el);
    } else {
      forecastChart.setData(data);
    }
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell;
      tr.appendChild(td);
    }
    return tr;
  }

  function draw(s) {
    const rejectedTotal = Object.values(s.rejected_per_s).reduce((a, b) => a + b, 0);
    $("accepted").textContent = fmt(s.accepted_per_s);
    $("rejected").textContent = fmt(rejectedTotal);
    $("p50").textContent = fmt(s.p50_ms);
    $("p99").textContent = fmt(s.p99_ms);
    $("commits").textContent = fmt(s.commits_per_s);
    $("fsync").textContent = fmt(s.commit_p99_ms);
    $("batch").textContent = fmt(s.records_per_commit);
    $("node-queued").textContent = fmt(s.node_queued);
    $("lag-records").textContent = fmt(s.lag_records);
    $("lag-seconds").textContent = fmt(s.lag_seconds);
    $("planned").textContent = fmt(s.shipments_planned);
    $("dispatched").textContent = fmt(s.shipments_dispatched);

    const reasons = $("reasons").tBodies[0];
    reasons.replaceChildren(...Object.entries(s.rejected_per_s).filter(([, n]) => n > 0).map(([reason, n]) => row([reason, fmt(n) + " / s"])));

    const max = Math.max(1, ...s.partition_queues);
    $("strip").replaceChildren(...s.partition_queues.map((q, i) => {
      const cell = document.createElement("div");
      const heat = q / max;
      cell.style.background = q === 0 ? "#24304a" : `hsl(${120 - 120 * heat}, 70%, 45%)`;
      cell.title = `partition ${i}: ${q} queued`;
      cell.dataset.queued = q;
      return cell;
    }));

    $("flash").tBodies[0].replaceChildren(...s.flash.map(f => {
      const bar = document.createElement("div");
      bar.className = "bar";
      const fill = document.createElement("div");
      const total = f.available + f.held + f.sold;
      fill.style.width = total === 0 ? "0%" : `${100 * f.available / total}%`;
      bar.appendChild(fill);
      const tr = row([f.seller_id, f.sku, fmt(f.available), fmt(f.held), fmt(f.sold), bar]);
      tr.dataset.sku = f.sku;
      tr.children[2].className = "flash-left";
      return tr;
    }));

    $("carriers").tBodies[0].replaceChildren(...s.carriers.map(c => {
      const tr = row([c.carrier_id, c.breaker, fmt(c.queued), fmt(c.dead_letters)]);
      tr.children[1].className = c.breaker === "open" ? "bad" : "good";
      return tr;
    }));

    times.push(s.at_ms / 1000); accepted.push(s.accepted_per_s); rejected.push(rejectedTotal); p50.push(s.p50_ms); p99.push(s.p99_ms);
    if (times.length > keep) for (const a of [times, accepted, rejected, p50, p99]) a.shift();
    rateChart.setData([times, accepted, rejected]);
    latencyChart.setData([times, p50, p99]);
    drawForecast(s);
  }

  // A seller's per-SKU forecast: weekly history, the next 8 weeks and the 95 % interval.
  let skuPlans = [], skuChart = null;
  function drawSku() {
    const plan = skuPlans.find(p => p.sku === $("forecast-sku").value);
    if (!plan) return;
    const week = w => Date.parse(w + "T00:00:00Z") / 1000;
    const future = plan.forecast || [];
    const x = [...plan.history.map(h => week(h.week)), ...future.map(f => week(f.week))];
    const data = [x,
      [...plan.history.map(h => h.units), ...future.map(() => null)],
      [...plan.history.map(() => null), ...future.map(f => f.mean)],
      [...plan.history.map(() => null), ...future.map(f => f.lower95)],
      [...plan.history.map(() => null), ...future.map(f => f.upper95)]];
    $("forecast-summary").textContent = plan.problem
      ? `${plan.sku}: ${plan.problem}`
      : `${plan.sku}: ${plan.model}; ${plan.available} available; stock runs out ${plan.stockout_week ? "in the week of " + plan.stockout_week : "not within 8 weeks"}; order ${plan.reorder_units} now`;
    const el = $("chart-sku");
    if (skuChart) skuChart.destroy();
    skuChart = new uPlot({ ...size(el), axes, series: [{},
      { label: "sold / week", stroke: "#66bb6a", width: 2 },
      { label: "forecast", stroke: "#4fc3f7", width: 2, dash: [6, 4] },
      { label: "95 % low", stroke: "#4fc3f788", width: 1 },
      { label: "95 % high", stroke: "#4fc3f788", width: 1 }] }, data, el);
  }
  $("forecast-form").addEventListener("submit", async e => {
    e.preventDefault();
    const answer = await fetch(`/dashboard/forecast?seller_id=${encodeURIComponent($("forecast-seller").value.trim())}`);
    const body = await answer.json();
    if (!answer.ok) { $("forecast-summary").textContent = body.detail; skuPlans = []; $("forecast-sku").replaceChildren(); return; }
    skuPlans = body.skus;
    $("forecast-sku").replaceChildren(...skuPlans.map(p => new Option(p.sku, p.sku)));
    const first = skuPlans.find(p => p.forecast) || skuPlans[0];
    if (first) { $("forecast-sku").value = first.sku; drawSku(); }
  });
  $("forecast-sku").addEventListener("change", drawSku);

  const source = new EventSource("/dashboard/stream");
  source.addEventListener("sample", e => {
    $("connection").textContent = "live";
    $("connection").className = "good";
    draw(JSON.parse(e.data));
  });
  source.onerror = () => { $("connection").textContent = "reconnecting…"; $("connection").className = "warn"; };
  window.addEventListener("resize", () => {
    rateChart.setSize(size($("chart-rate")));
    latencyChart.setSize(size($("chart-latency")));
  });
})();
