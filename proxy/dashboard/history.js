// Strangler dashboard: history charts (proxy/history). Plain SVG drawn here: no library, no CDN, works offline.
// Reads GET /dashboard/api/history?feature=&range= (session cookie), redraws every 10 s (the history's resolution)
// and when the feature, the range or the width changes. Every line has a text label and its own dash pattern,
// flips and automatic rollbacks are drawn as labelled vertical markers and listed in text under the charts.
(() => {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const RANGES = ["1h", "6h", "24h", "7d"];
  const REFRESH_MS = 10000;
  const HEIGHT = 170, PAD = { left: 64, right: 12, top: 22, bottom: 24 };
  const SIDES = {
    legacy: { label: "legacy", stroke: "#6b7280", dash: "" },
    target: { label: "target", stroke: "#2459c7", dash: "7 4" },
    shadow: { label: "shadow copies", stroke: "#a15c00", dash: "2 3" },
    canary: { label: "canary %", stroke: "#1b7f3b", dash: "10 3 2 3" },
    equal: { label: "parity equal %", stroke: "#7c3aed", dash: "" },
  };
  // chart -> lines: [series key in SIDES, side in the document, value of a point]
  const CHARTS = [
    { id: "rps", title: "Requests per second", unit: "/s", lines: [
      ["legacy", "legacy", (s, i) => s.rps[i]], ["target", "target", (s, i) => s.rps[i]],
      ["shadow", "shadow", (s, i, step) => s.copies[i] / step]] },
    { id: "errors", title: "Errors (5xx + no answer), % of requests", unit: "%", lines: [
      ["legacy", "legacy", (s, i) => pct(s.error_rate[i])], ["target", "target", (s, i) => pct(s.error_rate[i])],
      ["shadow", "shadow", (s, i) => (s.copies[i] ? 100 * s.copy_errors[i] / s.copies[i] : null)]] },
    { id: "p95", title: "Latency p95, ms", unit: " ms", lines: [
      ["legacy", "legacy", (s, i) => s.p95_ms[i]], ["target", "target", (s, i) => s.p95_ms[i]]] },
    { id: "split", title: "Canary share and parity equal-rate, %", unit: "%", max: 100, lines: [
      ["canary", "target", (s, i) => s.canary[i]], ["equal", "shadow", (s, i) => pct(s.equal_rate[i])]] },
  ];
  const pct = (v) => (v === null || v === undefined ? null : 100 * v);
  let state = { feature: "", range: "1h" }, last = null, timer = null;

  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function html(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function fmtTime(t, range) {
    const d = new Date(t * 1000), p = (n) => String(n).padStart(2, "0");
    const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
    return range === "7d" || range === "24h" && d.getHours() === 0 && d.getMinutes() === 0
      ? `${p(d.getMonth() + 1)}-${p(d.getDate())} ${hm}` : hm;
  }
  function fmtNum(v) {
    if (v === null || v === undefined || !isFinite(v)) return "—";
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const mag = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * mag) return m * mag;
    return 10 * mag;
  }
  function tickStep(span, room) {  // at most 7 labels, and at least ~90 px for each
    const most = Math.max(2, Math.min(7, Math.floor(room / 90)));
    for (const s of [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 259200, 604800]) {
      if (span / s <= most) return s;
    }
    return 604800;
  }
  function duration(seconds) {
    return seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
  }

  // The choice is kept in this browser; a link ending in #history=FEATURE:RANGE opens that view. The address
  // is never rewritten here: app.js routes on it (#/feature/NAME is the drill-down page).
  const KEY = "strangler.history";
  function load() {
    const m = /^#history=([^:&]*):(1h|6h|24h|7d)$/.exec(location.hash);
    if (m) { state = { feature: decodeURIComponent(m[1]), range: m[2] }; return; }
    try {
      const saved = JSON.parse(localStorage.getItem(KEY) || "null");
      if (saved && RANGES.includes(saved.range)) state = { feature: String(saved.feature || ""), range: saved.range };
    } catch (_) { /* storage off or unreadable: the defaults */ }
  }
  function save() {
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (_) { /* storage off: not kept */ }
  }

  async function refresh() {
    clearTimeout(timer);
    const status = document.getElementById("history-status");
    const q = new URLSearchParams({ feature: state.feature, range: state.range });
    try {
      const r = await fetch(`/dashboard/api/history?${q}`, { credentials: "same-origin", cache: "no-store",
                                                             headers: { Accept: "application/json" } });
      if (r.status === 401) { location.href = "/ui/login"; return; }
      const doc = await r.json();
      if (!r.ok) throw new Error(doc.message || `HTTP ${r.status}`);
      last = doc;
      state.feature = doc.feature;
      save();
      draw(doc);
      status.textContent = `${doc.range}: ${fmtTime(doc.from_t, "7d")} → ${fmtTime(doc.to_t, "7d")}, ` +
        `one point per ${duration(doc.step_s)}`;
    } catch (err) {
      status.textContent = `history unavailable: ${err.message}`;
    } finally {
      timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  function controls(doc) {
    const select = document.getElementById("history-feature");
    const names = doc.features.join("\n");
    if (select.dataset.names !== names) {
      select.replaceChildren(...doc.features.map((n) => html("option", { value: n }, n)));
      select.dataset.names = names;
    }
    select.value = doc.feature;
    for (const b of document.querySelectorAll("#history-ranges button")) {
      b.setAttribute("aria-pressed", String(b.dataset.range === doc.range));
    }
  }

  function draw(doc) {
    controls(doc);
    const box = document.getElementById("history-charts");
    const width = Math.max(280, Math.floor(box.clientWidth || 600));
    const points = Object.values(doc.series).reduce((n, s) => n + s.t.length, 0);
    box.dataset.points = String(points);
    box.dataset.firstT = String(Math.min(...Object.values(doc.series).map((s) => s.t[0] ?? Infinity)));
    if (!doc.feature || !points) {
      box.replaceChildren(html("p", { class: "muted" }, doc.note ||
        `No history for ${doc.feature} in the last ${doc.range} yet: the façade writes a point every 10 s.`));
    } else {
      box.replaceChildren(...CHARTS.map((c) => chart(c, doc, width)));
    }
    markerList(doc);
  }

  function chart(spec, doc, width) {
    const x0 = PAD.left, x1 = width - PAD.right, y0 = HEIGHT - PAD.bottom, y1 = PAD.top;
    const sx = (t) => x0 + (x1 - x0) * (t - doc.from_t) / (doc.to_t - doc.from_t);
    const lines = spec.lines.map(([key, side, value]) => {
      const s = doc.series[side];
      const pts = s ? s.t.map((t, i) => [t, value(s, i, doc.step_s)]) : [];
      return { key, pts: pts.filter(([, v]) => v !== null && v !== undefined && isFinite(v)) };
    }).filter((l) => l.pts.length);
    const top = spec.max || niceMax(Math.max(0, ...lines.flatMap((l) => l.pts.map(([, v]) => v))));
    const sy = (v) => y0 - (y0 - y1) * Math.min(v, top) / top;
    const root = svg("svg", { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: "img",
                              "aria-label": `${spec.title} for ${doc.feature}, last ${doc.range}`,
                              "data-chart": spec.id, "data-lines": lines.map((l) => l.key).join(" ") });
    root.append(svg("title", {}, `${spec.title} — ${doc.feature}, last ${doc.range}`));
    root.append(svg("text", { x: x0, y: 14, "font-size": 12, "font-weight": 600, fill: "#374151" }, spec.title));
    for (const f of [0, 0.5, 1]) {  // y grid and labels
      const y = sy(top * f);
      root.append(svg("line", { x1: x0, x2: x1, y1: y, y2: y, stroke: "#e3e6ea" }));
      root.append(svg("text", { x: x0 - 6, y: y + 4, "font-size": 11, "text-anchor": "end", fill: "#6b7280" },
                      `${fmtNum(top * f)}${spec.unit}`));
    }
    const step = tickStep(doc.to_t - doc.from_t, x1 - x0);  // time axis
    const offset = new Date(doc.to_t * 1000).getTimezoneOffset() * 60;
    for (let t = Math.ceil((doc.from_t - offset) / step) * step + offset; t <= doc.to_t; t += step) {
      const x = sx(t);
      root.append(svg("line", { x1: x, x2: x, y1: y0, y2: y0 + 4, stroke: "#6b7280" }));
      root.append(svg("text", { x, y: HEIGHT - 6, "font-size": 11, "text-anchor": "middle", fill: "#6b7280",
                                class: "history-tick" }, fmtTime(t, doc.range)));
    }
    root.append(svg("line", { x1: x0, x2: x1, y1: y0, y2: y0, stroke: "#9ca3af" }));
    for (const m of doc.markers) {  // flips and rollbacks
      const x = sx(m.t), rollback = m.kind === "rollback";
      const g = svg("g", { class: `history-marker ${m.kind}`, "data-kind": m.kind });
      g.append(svg("title", {}, markerText(m)));
      g.append(svg("line", { x1: x, x2: x, y1: y1 - 4, y2: y0, stroke: rollback ? "#b3261e" : "#1d2330",
                             "stroke-dasharray": rollback ? "3 2" : "", "stroke-width": 1.5 }));
      const left = x > (x0 + x1) / 2;  // the label on the side with room, so it is never cut at the edge
      g.append(svg("text", { x: left ? x - 3 : x + 3, y: y1 + 6, "font-size": 10.5, "text-anchor": left ? "end" : "start",
                             fill: rollback ? "#b3261e" : "#1d2330" },
                   rollback ? "↩ rollback" : `flip → ${m.to_state || "?"}${m.to_state === "canary" &&
                     m.to_percent !== null && m.to_percent !== undefined ? ` ${m.to_percent}%` : ""}`));
      root.append(g);
    }
    for (const l of lines) {  // the data, a gap where no façade wrote a point
      const style = SIDES[l.key];
      let d = "", prev = null;
      for (const [t, v] of l.pts) {
        d += `${prev !== null && t - prev <= doc.step_s ? "L" : "M"}${sx(t + doc.step_s / 2).toFixed(1)},${sy(v).toFixed(1)}`;
        prev = t;
      }
      root.append(svg("path", { d, fill: "none", stroke: style.stroke, "stroke-width": 1.8,
                                "stroke-dasharray": style.dash, "data-series": l.key,
                                "data-points": l.pts.length }));
      if (l.pts.length === 1 || d.split("M").length > 2) {  // isolated points would be invisible as a path
        for (const [t, v] of l.pts) root.append(svg("circle", { cx: sx(t + doc.step_s / 2), cy: sy(v), r: 2.2,
                                                              fill: style.stroke }));
      }
    }
    const fig = html("figure", { class: "history-chart" });
    fig.style.margin = "0 0 14px";  // CSSOM (allowed by the page's CSP, unlike a style attribute)
    fig.append(root);
    const legend = html("figcaption", { class: "small" });
    for (const l of lines) {  // text labels: a dash sample, the name, the latest value
      const style = SIDES[l.key];
      const sample = svg("svg", { width: 26, height: 10, "aria-hidden": "true" });
      sample.append(svg("line", { x1: 0, x2: 26, y1: 5, y2: 5, stroke: style.stroke, "stroke-width": 2,
                                  "stroke-dasharray": style.dash }));
      const item = html("span", { class: "history-legend", "data-series": l.key });
      item.append(sample, ` ${style.label}: latest ${fmtNum(l.pts[l.pts.length - 1][1])}${spec.unit}   `);
      legend.append(item);
    }
    if (!lines.length) legend.append(`no ${spec.title.toLowerCase()} in this range`);
    fig.append(legend);
    return fig;
  }

  function markerText(m) {
    const what = m.kind === "rollback" ? "automatic rollback" : m.kind;
    const pctText = m.to_percent !== null && m.to_percent !== undefined ? ` ${m.to_percent}%` : "";
    return `${m.ts} ${what}: ${m.from_state || "?"} → ${m.to_state || "?"}${pctText} by ${m.actor || "?"}` +
      (m.reason ? ` — ${m.reason}` : "");
  }

  function markerList(doc) {
    const box = document.getElementById("history-markers");
    if (!doc.markers.length) {
      box.replaceChildren(html("p", { class: "muted small" }, `No flips or rollbacks in the last ${doc.range}.`));
      return;
    }
    const list = html("ul", { class: "small" });
    for (const m of doc.markers.slice().reverse()) list.append(html("li", { "data-kind": m.kind }, markerText(m)));
    box.replaceChildren(list);
  }

  function start() {
    const root = document.getElementById("history");
    if (!root) return;
    load();
    const ranges = document.getElementById("history-ranges");
    ranges.replaceChildren(...RANGES.map((r) => {
      const b = html("button", { type: "button", "data-range": r, "aria-pressed": String(r === state.range) }, r);
      b.addEventListener("click", () => { state.range = r; refresh(); });
      return b;
    }));
    document.getElementById("history-feature").addEventListener("change", (ev) => {
      state.feature = ev.target.value;
      refresh();
    });
    window.addEventListener("hashchange", () => {
      if (/^#history=/.test(location.hash)) { load(); refresh(); }
    });
    let resized = null;
    window.addEventListener("resize", () => {
      clearTimeout(resized);
      resized = setTimeout(() => last && draw(last), 150);
    });
    refresh();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
