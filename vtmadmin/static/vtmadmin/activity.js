// Current Activity: polls the admin server every 2 s and draws the last 5 minutes with uPlot.
// Connections per second come from the engine's per-second totals; bandwidth per virtual server is the
// change in each one's byte counters between two polls.
(function () {
  const WINDOW = 300, PERIOD = 2000;
  const connsEl = document.getElementById("chart-conns"), bwEl = document.getElementById("chart-bandwidth");
  const src = connsEl.dataset.src, notice = document.getElementById("engine-state");
  const perSecond = new Map();          // time -> {conns, requests}
  const bw = { times: [], series: {} }; // virtual server -> [kbit/s]
  let last = null, connsPlot = null, bwPlot = null, bwNames = [];
  const palette = ["#0b5cad", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#1098ad", "#e67700", "#5f3dc4"];

  function width(el) { return Math.max(300, el.clientWidth - 4); }

  function drawConns() {
    const times = [...perSecond.keys()].sort((a, b) => a - b).slice(-WINDOW);
    const data = [times, times.map(t => perSecond.get(t).conns), times.map(t => perSecond.get(t).requests)];
    if (!connsPlot) {
      connsPlot = new uPlot({ width: width(connsEl), height: 240, series: [{},
        { label: "connections/s", stroke: palette[0], width: 2, fill: "rgba(11,92,173,0.08)" },
        { label: "requests/s", stroke: palette[1], width: 1.5 }], axes: [{}, { label: "per second" }] }, data, connsEl);
    } else connsPlot.setData(data);
  }

  function drawBandwidth() {
    const names = Object.keys(bw.series).sort();
    const data = [bw.times, ...names.map(n => bw.series[n])];
    if (!bwPlot || names.join() !== bwNames.join()) {
      if (bwPlot) bwPlot.destroy();
      bwNames = names;
      bwPlot = new uPlot({ width: width(bwEl), height: 240, series: [{}, ...names.map((n, i) => (
        { label: n, stroke: palette[i % palette.length], width: 2 }))], axes: [{}, { label: "kbit/s" }] }, data, bwEl);
    } else bwPlot.setData(data);
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
    if (last) {
      const dt = Math.max(0.1, body.time - last.time);
      bw.times.push(body.time);
      for (const [name, c] of Object.entries(body.virtual_servers)) {
        if (!bw.series[name]) bw.series[name] = bw.times.slice(0, -1).map(() => null);
        const prev = last.virtual_servers[name];
        const bytes = prev ? (c.bytes_in + c.bytes_out) - (prev.bytes_in + prev.bytes_out) : 0;
        bw.series[name].push(Math.max(0, bytes * 8 / 1000 / dt));
      }
      for (const name of Object.keys(bw.series)) if (bw.series[name].length < bw.times.length) bw.series[name].push(null);
      while (bw.times.length && bw.times[0] < body.time - WINDOW) { bw.times.shift(); for (const s of Object.values(bw.series)) s.shift(); }
    }
    last = body;
    drawConns();
    drawBandwidth();
  }
  window.addEventListener("resize", () => {
    if (connsPlot) connsPlot.setSize({ width: width(connsEl), height: 240 });
    if (bwPlot) bwPlot.setSize({ width: width(bwEl), height: 240 });
  });
  poll();
  setInterval(poll, PERIOD);
})();
