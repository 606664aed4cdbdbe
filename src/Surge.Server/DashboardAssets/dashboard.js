// The operator dashboard: the recent past from /dashboard/history at once, then one sample a second from
// /dashboard/stream (Server-Sent Events), drawn with uPlot over a fixed window of time.
(() => {
  const keep = 900; // seconds of history in the charts (the server keeps more)
  const times = [], accepted = [], rejected = [], p50 = [], p99 = [];
  const $ = id => document.getElementById(id);
  const fmt = n => n >= 1000 ? Math.round(n).toLocaleString("en-US") : (Math.round(n * 10) / 10).toString();
  const size = el => ({ width: Math.max(280, el.clientWidth), height: 180 });
  const axes = [{ stroke: "#8a96ad", grid: { stroke: "#24304a" } }, { stroke: "#8a96ad", grid: { stroke: "#24304a" } }];
  // The time axis always spans the window up to the newest point (one point alone does not stretch it over years).
  const timeWindow = { x: { time: true, range: (u, min, max) => [(max ?? Date.now() / 1000) - keep, (max ?? Date.now() / 1000)] } };
  const rateChart = new uPlot({ ...size($("chart-rate")), axes, scales: timeWindow,
    series: [{}, { label: "accepted", stroke: "#66bb6a", width: 2 }, { label: "rejected", stroke: "#ef5350", width: 2 }] },
    [times, accepted, rejected], $("chart-rate"));
  const latencyChart = new uPlot({ ...size($("chart-latency")), axes, scales: timeWindow,
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

  // Adds one point per second to the charts (a point the history already holds is not added twice).
  function plot(p, redraw = true) {
    const t = p.at_ms / 1000;
    if (times.length && t <= times[times.length - 1]) return;
    times.push(t); accepted.push(p.accepted_per_s); rejected.push(p.rejected_per_s); p50.push(p.p50_ms); p99.push(p.p99_ms);
    while (times.length && times[0] < t - keep) for (const a of [times, accepted, rejected, p50, p99]) a.shift();
    if (redraw) redrawCharts();
  }
  function redrawCharts() {
    rateChart.setData([times, accepted, rejected]);
    latencyChart.setData([times, p50, p99]);
    // What is drawn, for a reader of the page (and its tests): points, and the seconds the time axis spans.
    $("chart-rate").dataset.points = times.length;
    $("chart-rate").dataset.spanS = Math.round(rateChart.scales.x.max - rateChart.scales.x.min);
  }

  // One seller followed: its accepted and refused seller orders per second (differences of the node's totals), its
  // partition's lag downstream and in the read model.
  let followed = null, previous = null, drilling = false;
  async function drill() {
    if (!followed || drilling) return;
    drilling = true;
    try {
      const answer = await fetch(`/dashboard/sellers/${encodeURIComponent(followed)}`);
      const d = await answer.json();
      if (!answer.ok) { $("drill-summary").textContent = d.detail; followed = null; return; }
      const refused = Object.values(d.refused).reduce((a, b) => a + b, 0);
      const now = performance.now();
      if (previous) {
        const seconds = Math.max(0.001, (now - previous.at) / 1000);
        $("drill-accepted").textContent = fmt((d.accepted - previous.accepted) / seconds);
        $("drill-refused").textContent = fmt((refused - previous.refused) / seconds);
      }
      previous = { at: now, accepted: d.accepted, refused };
      $("drill-summary").textContent = `${d.name} (${d.seller_id}), partition ${d.partition}: ${fmt(d.accepted)} accepted, ${fmt(refused)} refused since this node started`;
      $("drill-lag").textContent = fmt(d.lag_records);
      $("drill-read-lag").textContent = d.read_model_lag_records == null ? "–" : fmt(d.read_model_lag_records);
      $("drill-reasons").tBodies[0].replaceChildren(...Object.entries(d.refused).sort((a, b) => b[1] - a[1]).map(([reason, n]) => row([reason, fmt(n)])));
    } finally { drilling = false; }
  }
  $("drill-form").addEventListener("submit", e => {
    e.preventDefault();
    followed = $("drill-seller").value.trim();
    previous = null;
    for (const id of ["drill-accepted", "drill-refused"]) $(id).textContent = "–";
    drill();
  });

  async function cluster() {
    const answer = await fetch("/dashboard/cluster");
    if (!answer.ok) return;
    const c = await answer.json();
    $("cluster-note").textContent = c.cluster ? `${c.silos.length} silos serving` : "one node (embedded): every partition is here";
    $("cluster-silos").tBodies[0].replaceChildren(...c.silos.map(s => {
      const tr = row([s.silo + (s.local ? " (this node)" : ""), `${s.partitions.length}: ${s.partitions.join(", ")}`]);
      tr.dataset.partitions = s.partitions.length;
      return tr;
    }));
    $("cluster-moves").tBodies[0].replaceChildren(...c.moves.slice(0, 20).map(m =>
      row([new Date(m.at_ms).toLocaleTimeString(), String(m.partition), m.from, m.to])));
  }
  setInterval(() => cluster().catch(() => {}), 5000);

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

    plot({ at_ms: s.at_ms, accepted_per_s: s.accepted_per_s, rejected_per_s: rejectedTotal, p50_ms: s.p50_ms, p99_ms: s.p99_ms });
    drawForecast(s);
    drill();
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

  // The recent past first, then live (a live sample older than the history's newest point is not drawn twice).
  (async () => {
    try {
      const answer = await fetch("/dashboard/history");
      if (answer.ok) {
        for (const p of (await answer.json()).points) plot(p, false);
        redrawCharts();
      }
      await cluster();
    } catch { /* the stream still draws from now on */ }
    const source = new EventSource("/dashboard/stream");
    source.addEventListener("sample", e => {
      $("connection").textContent = "live";
      $("connection").className = "good";
      draw(JSON.parse(e.data));
    });
    source.onerror = () => { $("connection").textContent = "reconnecting…"; $("connection").className = "warn"; };
  })();
  window.addEventListener("resize", () => {
    rateChart.setSize(size($("chart-rate")));
    latencyChart.setSize(size($("chart-latency")));
  });
})();
