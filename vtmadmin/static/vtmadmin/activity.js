// Current Activity: polls the admin server every 2 s and draws the last 5 minutes with uPlot.
// The totals come from the engine's per-second counters (the last minute is there at once); the
// per-virtual-server lines are the change in each one's counters between two polls.
(function () {
  const WINDOW = 300, PERIOD = 2000;
  const connsEl = document.getElementById("chart-conns");
  const src = connsEl.dataset.src, notice = document.getElementById("engine-state");
  const perSecond = new Map();                  // time -> {conns, requests}
  const polls = { times: [], conns: {}, bw: {} }; // virtual server -> [per second], [kbit/s]
  const plots = {};
  let last = null;
  const palette = ["#0b5cad", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#1098ad", "#e67700", "#5f3dc4"];

  function width(el) { return Math.max(300, el.clientWidth - 4); }

  // Draw (or redraw when the set of series changes) one chart.
  function draw(id, labels, data, yLabel, fill) {
    const el = document.getElementById(id), key = labels.join("\u0000");
    const p = plots[id];
    if (p && p.key === key) { p.plot.setData(data); return; }
    if (p) p.plot.destroy();
    const series = [{}, ...labels.map((label, i) => ({ label, stroke: palette[i % palette.length], width: 2,
      fill: fill && i === 0 ? "rgba(11,92,173,0.08)" : undefined }))];
    plots[id] = { key, plot: new uPlot({ width: width(el), height: 220, series, axes: [{}, { label: yLabel }] }, data, el) };
  }

  function drawAll() {
    const times = [...perSecond.keys()].sort((a, b) => a - b).slice(-WINDOW);
    draw("chart-conns", ["connections/s", "requests/s"],
         [times, times.map(t => perSecond.get(t).conns), times.map(t => perSecond.get(t).requests)], "per second", true);
    const names = Object.keys(polls.conns).sort();
    draw("chart-vs-conns", names, [polls.times, ...names.map(n => polls.conns[n])], "connections/s");
    draw("chart-bandwidth", names, [polls.times, ...names.map(n => polls.bw[n])], "kbit/s");
  }

  function record(body) {
    const dt = Math.max(0.1, body.time - last.time);
    polls.times.push(body.time);
    for (const [name, c] of Object.entries(body.virtual_servers)) {
      if (!polls.conns[name]) { polls.conns[name] = polls.times.slice(0, -1).map(() => null); polls.bw[name] = polls.conns[name].slice(); }
      const prev = last.virtual_servers[name];
      const bytes = prev ? (c.bytes_in + c.bytes_out) - (prev.bytes_in + prev.bytes_out) : 0;
      const conns = prev ? c.total_conn - prev.total_conn : 0;
      polls.bw[name].push(Math.max(0, bytes * 8 / 1000 / dt));
      polls.conns[name].push(Math.max(0, conns / dt));
    }
    for (const name of Object.keys(polls.conns)) {
      if (polls.conns[name].length < polls.times.length) { polls.conns[name].push(null); polls.bw[name].push(null); }
    }
    while (polls.times.length && polls.times[0] < body.time - WINDOW) {
      polls.times.shift();
      for (const name of Object.keys(polls.conns)) { polls.conns[name].shift(); polls.bw[name].shift(); }
    }
  }

  async function poll() {
    let body;
    try {
      const r = await fetch(src, { headers: { "X-Poll": "1" }, credentials: "same-origin" });
      if (r.redirected || !r.ok) { notice.hidden = false; notice.textContent = "The admin server did not answer (" + r.status + ")."; return; }
      body = await r.json();
    } catch (e) { notice.hidden = false; notice.textContent = "The admin server did not answer."; return; }
    notice.hidden = body.engine_running;
    if (!body.engine_running) { last = null; return; }
    for (const row of body.per_second || []) perSecond.set(Math.round(row.time), { conns: row.conns, requests: row.requests });
    for (const t of [...perSecond.keys()]) if (t < body.time - WINDOW) perSecond.delete(t);
    if (last) record(body);
    last = body;
    drawAll();
  }
  window.addEventListener("resize", () => {
    for (const [id, p] of Object.entries(plots)) p.plot.setSize({ width: width(document.getElementById(id)), height: 220 });
  });
  poll();
  setInterval(poll, PERIOD);
})();
