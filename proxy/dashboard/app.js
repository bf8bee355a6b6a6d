// Strangler migration dashboard: polls /ui/data, renders with textContent only (never an HTML sink: feature
// names, field paths and ledger reasons come from files and traffic), keeps a short latency history in
// memory for the charts, and sends flips to POST /flip with the session's CSRF token in a header.
(() => {
  "use strict";

  const POLL_MS = 2000;
  const HISTORY_POINTS = 90; // 3 minutes at one poll every 2 s
  const CSRF = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const SVG_NS = "http://www.w3.org/2000/svg";
  const STATE_CLASS = { legacy: "st-legacy", shadow: "st-shadow", canary: "st-canary", new: "st-new",
                        retired: "st-retired" };
  const BREAKER_CLASS = { closed: "ok", "half-open": "warn", open: "bad" };
  const VERDICT_CLASS = { real: "bad", noise: "warn", none: "muted" };
  const SIDES = ["legacy", "target"];

  const $ = (id) => document.getElementById(id);
  const history = new Map(); // feature -> [{legacy: p95|null, target: p95|null}]
  let timer = null;
  let inFlight = false;
  let again = false;
  let flipTarget = null;

  // ------------------------------------------------------------------------------------------ helpers
  const { el } = window.StranglerDom; // proxy/dashboard/dom.js
  const svg = (tag, attrs) => {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  };
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const pct = (rate, digits = 2) => (isNum(rate) ? `${(rate * 100).toFixed(digits)}%` : "—");
  const ms = (v) => (isNum(v) ? (v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`) : "—");
  const num = (v) => (isNum(v) ? v.toLocaleString("en") : "—");
  const rps = (v) => (isNum(v) ? `${v.toFixed(v >= 10 ? 0 : 1)}/s` : "—");
  const when = (iso) => (typeof iso === "string" ? iso.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, " UTC") : "—");
  const stateLabel = (state, percent) => (state === "canary" && isNum(percent) ? `canary ${percent}%` : String(state));
  const badge = (text, cls) => el("span", { cls: `badge ${cls || ""}`, text });
  // Elements the keyboard can be on carry a key, so a re-render can give the focus back (render()).
  function keyed(node, key) {
    node.dataset.focusKey = key;
    return node;
  }
  function link(href, text, cls) {
    const a = el("a", { cls: cls || "", text });
    a.setAttribute("href", href);
    return a;
  }

  // Every table sits in its own scroll box: on a narrow screen it scrolls there, the page never does.
  function table(headers, rows, cls) {
    const head = el("tr", null, ...headers.map((h) => el("th", { text: h })));
    return el("div", { cls: "scroll" }, el("table", { cls: cls || "" }, el("thead", null, head), el("tbody", null, ...rows)));
  }
  const viewer = () => window.StranglerViewer;

  // ------------------------------------------------------------------------------------------ polling
  async function poll() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    clearTimeout(timer);
    try {
      const r = await fetch("/ui/data", { credentials: "same-origin", cache: "no-store",
                                          headers: { Accept: "application/json" } });
      if (r.status === 401) { window.location.assign("/ui/login"); return; }
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const data = await r.json();
      remember(data);
      render(data);
      setStatus(true, `live · updated ${new Date().toLocaleTimeString("en-GB")} · traffic window ${Math.round(data.window_s)} s`);
    } catch (err) {
      setStatus(false, `disconnected (${err.message || err}); retrying…`);
    } finally {
      inFlight = false;
      if (again) { again = false; poll(); } else { timer = setTimeout(poll, POLL_MS); }
    }
  }

  function setStatus(ok, text) {
    const s = $("status");
    s.className = `status ${ok ? "ok" : "bad"}`;
    s.textContent = text;
  }

  function remember(data) {
    const seen = new Set();
    for (const f of data.features) {
      seen.add(f.name);
      const points = history.get(f.name) || [];
      points.push({ legacy: f.sides.legacy.p95_ms, target: f.sides.target.p95_ms });
      while (points.length > HISTORY_POINTS) points.shift();
      history.set(f.name, points);
    }
    for (const name of [...history.keys()]) if (!seen.has(name)) history.delete(name);
  }

  // ------------------------------------------------------------------------------------------ render
  function render(data) {
    const openWhy = new Set([...document.querySelectorAll("details.refused[open]")].map((d) => d.dataset.feature));
    const focusKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focusKey : null;
    renderAll(data);
    document.querySelectorAll("details.refused").forEach((d) => { if (openWhy.has(d.dataset.feature)) d.open = true; });
    if (focusKey) {  // a poll rebuilds the cards: keep the keyboard where it was
      const again = document.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
  }

  function renderAll(data) {
    const t = data.table;
    $("table-info").replaceChildren(el("span", null,
      `Route table v${t.version} · `, el("code", { text: t.file }), " · default upstream ", el("b", { text: t.default }),
      ` · loaded ${when(t.loaded_at)}`,
      t.last_error ? el("div", { cls: "error-line", text: `Last edit rejected (still serving v${t.version}): ${t.last_error}` }) : null));
    $("features").replaceChildren(...(data.features.length ? data.features.map((f) => featureCard(f, data))
      : [el("p", { cls: "muted", text: "No features in the route table: everything goes to the default upstream." })]));
    $("upstreams").replaceChildren(upstreamTable(data.upstreams));
    $("ledger").replaceChildren(ledgerTable(data.ledger));
  }

  function featureCard(f, data) {
    const head = el("header", { cls: "card-head" },
      el("h3", { text: f.name }),
      badge(stateLabel(f.state, f.canary_percent), STATE_CLASS[f.state]),
      el("span", { cls: "muted target", text: `target ${f.target} (${f.target_url})` }),
      keyed(link(`#/feature/${encodeURIComponent(f.name)}`, "details →", "details"), `details:${f.name}`));
    const sides = table(["side", "upstream", "req/s", "requests", "errors", "p50", "p95"], SIDES.map((side) => {
      const s = f.sides[side];
      const errCls = isNum(s.error_rate) && s.error_rate > 0 ? "bad" : "";
      return el("tr", null, el("td", { cls: `side side-${side}`, text: side }), el("td", { text: s.upstream }),
        el("td", { cls: "num", text: rps(s.rate_rps) }),
        el("td", { cls: "num", text: num(s.requests_total), title: `${num(s.window_requests)} in the window` }),
        el("td", { cls: `num ${errCls}`, text: pct(s.error_rate), title: `${num(s.window_errors)} 5xx in the window, ${num(s.errors_total)} in total` }),
        el("td", { cls: "num", text: ms(s.p50_ms) }),
        el("td", { cls: "num", text: ms(s.p95_ms), title: `all-time p95 ${ms(s.p95_all_ms)}` }));
    }).concat(copiesRow(f)), "sides");
    const body = el("div", { cls: "card-grid" },
      el("div", null, sides, chart(history.get(f.name) || [])),
      el("div", null, parityBlock(f, data.parity_store, f.dry_run), ownershipBlock(f.ownership, data.ownership_file)));
    return el("article", { cls: "card" }, head, body, flipBar(f));
  }

  function chart(points) {
    const W = 520, H = 110, PAD_L = 48, PAD_T = 8, PAD_B = 16;
    const values = points.flatMap((p) => SIDES.map((s) => p[s])).filter(isNum);
    const max = Math.max(1, ...values) * 1.15;
    const box = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                             "aria-label": "p95 latency per side over the last polls" });
    const y = (v) => PAD_T + (H - PAD_T - PAD_B) * (1 - v / max);
    const slots = Math.max(points.length, 30); // fills from the left, then compresses up to HISTORY_POINTS
    const x = (i) => PAD_L + (W - PAD_L - 4) * (i / (slots - 1));
    box.append(svg("line", { x1: PAD_L, y1: y(0), x2: W - 4, y2: y(0), class: "axis" }));
    box.append(svg("line", { x1: PAD_L, y1: y(max / 1.15), x2: W - 4, y2: y(max / 1.15), class: "grid" }));
    const top = svg("text", { x: PAD_L - 4, y: y(max / 1.15) + 4, class: "tick", "text-anchor": "end" });
    top.textContent = ms(max / 1.15);
    const zero = svg("text", { x: PAD_L - 4, y: y(0) + 4, class: "tick", "text-anchor": "end" });
    zero.textContent = "0";
    const caption = svg("text", { x: PAD_L, y: H - 2, class: "tick" });
    caption.textContent = values.length ? "p95 per poll:" : "p95: no requests in the window yet";
    box.append(top, zero, caption);
    if (values.length) {
      SIDES.forEach((side, i) => {
        const key = svg("text", { x: PAD_L + 84 + i * 62, y: H - 2, class: `tick key key-${side}` });
        key.textContent = `■ ${side}`;
        box.append(key);
      });
    }
    for (const side of SIDES) {
      let d = "";
      let pen = false;
      points.forEach((p, i) => {
        if (!isNum(p[side])) { pen = false; return; }
        d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(p[side]).toFixed(1)} `;
        pen = true;
      });
      if (d) box.append(svg("path", { d: d.trim(), class: `line line-${side}` }));
      const lastPoint = [...points].reverse().find((p) => isNum(p[side]));
      if (lastPoint && points.length) {
        const i = points.lastIndexOf(lastPoint);
        box.append(svg("circle", { cx: x(i), cy: y(lastPoint[side]), r: 2.5, class: `dot line-${side}` }));
      }
    }
    return box;
  }

  // In shadow the target serves no client, so its row is empty: the copies' own figures come from the parity
  // store's recent window (what the shadow worker compared), shown as a row of their own.
  function copiesRow(f) {
    const p = f.parity;
    if (!p || !p.window || !p.window.samples || !["shadow", "canary"].includes(f.state)) return [];
    const w = p.window;
    return [el("tr", { cls: "copies" }, el("td", { cls: "side side-copies", text: "copies" }),
      el("td", { text: f.target, title: "shadow copies compared with legacy (parity store, recent window)" }),
      el("td", { cls: "num", text: "—" }),
      el("td", { cls: "num", text: num(p.compared + p.errors), title: `${num(w.samples)} in the recent window` }),
      el("td", { cls: `num ${w.errors ? "bad" : ""}`, text: pct(w.error_rate), title: `${num(w.errors)} of the last ${num(w.samples)} copies failed` }),
      el("td", { cls: "num", text: "—" }),
      el("td", { cls: "num", text: ms(w.p95_ms), title: "the copies' own answer time, last copies" }))];
  }

  function fieldButton(feature, field) {
    const b = el("button", { cls: "field-link", title: `open the examples of ${field}` }, el("code", { text: field }));
    b.type = "button";
    b.dataset.field = field;
    keyed(b, `field:${feature}:${field}`);
    b.addEventListener("click", () => viewer().openExamples(feature, field));
    return b;
  }

  function parityBlock(f, store, dry) {
    const p = f.parity;
    const box = el("div", { cls: "block" }, el("h4", { text: "Parity" }));
    if (dry && dry.state !== "not_declared") {
      box.append(el("p", { cls: dry.state === "unsafe" ? "bad" : dry.writes_shadowed ? "ok" : "warn",
        text: dry.says, title: dry.detail || "" }));
    }
    if (!p) {
      box.append(el("p", { cls: "muted", text: store.note || "No comparisons recorded for this feature yet." }));
      return box;
    }
    const r = p.recent || { compared: 0, errors: 0, mismatches: 0 };
    const rateCls = !isNum(p.parity_rate) ? "muted" : p.parity_rate >= 0.99 ? "ok" : p.parity_rate >= 0.95 ? "warn" : "bad";
    box.append(el("p", null, el("span", { cls: `big ${rateCls}`, text: pct(p.parity_rate) }),
      ` equal over the last ${num(r.compared + r.errors)} (${num(r.mismatches)} differing under the rules in force, ${num(r.errors)} errors); `,
      `${num(p.compared)} compared in total`));
    if ((p.causes || []).length) {
      box.append(table(["cause (recent, rules in force)", "fields"], p.causes.map((c) =>
        el("tr", null, el("td", { cls: c.differs ? "bad" : "ok", text: c.headline }),
          el("td", null, el("code", { text: c.fields.join(", ") })))), "compact"));
    }
    if (p.top_fields.length) {
      box.append(table(["top differing field", "route", "raw", "verdict"], p.top_fields.map((fd) =>
        el("tr", null, el("td", null, fieldButton(f.name, fd.field)), el("td", null, el("code", { text: fd.route })),
          el("td", { cls: "num", text: pct(fd.raw_rate, 1), title: `${num(fd.raw)}/${num(fd.compared)}; legacy-vs-legacy ${pct(fd.noise_rate, 1)}` }),
          el("td", { cls: fd.ignored ? "muted" : VERDICT_CLASS[fd.verdict] || "", text: fd.ignored ? `${fd.verdict}, ignored` : fd.verdict }))), "compact"));
    } else {
      box.append(el("p", { cls: "muted", text: "No field has differed." }));
    }
    return box;
  }

  function ownershipBlock(o, file) {
    const box = el("div", { cls: "block" }, el("h4", { text: "Data ownership" }));
    if (!o) {
      box.append(el("p", { cls: "muted", text: file.note || "No data-migration record for this feature." }));
      return box;
    }
    const sync = o.sync || {};
    const lagCls = !isNum(sync.lag_s) ? "muted" : sync.lag_s < 5 ? "ok" : sync.lag_s < 60 ? "warn" : "bad";
    box.append(el("p", null, "writes owned by ", badge(o.writes_owner || "unknown", o.writes_owner === "service" ? "st-new" : "st-legacy"),
      " · sync ", el("b", { text: sync.direction || "off" }),
      sync.direction ? el("span", { cls: lagCls, text: ` lag ${isNum(sync.lag_s) ? sync.lag_s.toFixed(1) + " s" : "unknown"}` }) : null,
      sync.updated_at ? el("span", { cls: "muted small", text: ` (${when(sync.updated_at)})` }) : null));
    if (o.tables.length) {
      const mark = (v) => el("td", { cls: v ? "ok" : "bad", text: v ? "✓" : "✗", title: v ? when(v) : "not yet" });
      box.append(table(["table", "rows", "backfilled", "verified"], o.tables.map((t) =>
        el("tr", null, el("td", null, el("code", { text: t.name })), el("td", { cls: "num", text: num(t.rows) }),
          mark(t.backfilled_at), mark(t.verified_at))), "compact"));
    }
    return box;
  }

  // Buttons only for the moves the gates allow now (proxy.flips.precheck on the server); the others are
  // listed with the gate's reason, as text.
  function flipBar(f) {
    const bar = el("footer", { cls: "flip-bar" }, el("span", { cls: "muted", text: "Flip to:" }));
    const refused = [];
    for (const c of f.controls || []) {
      if (!c.allowed) { refused.push(c); continue; }
      const to = c.to;
      const label = to === "canary" ? (f.state === "canary" ? "canary % …" : "canary …") : to;
      const b = el("button", { cls: `flip ${STATE_CLASS[to]}`, text: label, title: `flip ${f.name} to ${to}` });
      b.type = "button";
      b.dataset.feature = f.name;
      keyed(b, `flip:${f.name}:${to}`);
      b.dataset.to = to;
      b.addEventListener("click", () => openFlip(f, c));
      bar.append(b);
    }
    if (refused.length) {
      const why = el("details", { cls: "refused" },
        keyed(el("summary", { text: `not now: ${refused.map((c) => c.to).join(", ")}` }), `why:${f.name}`),
        el("ul", null, ...refused.map((c) => el("li", { cls: "refused-move" }, el("b", { text: `${c.to}: ` }),
          c.reasons.join(" ")))));
      why.dataset.feature = f.name;
      bar.append(why);
    }
    const rb = f.rollback || {};
    const limits = [isNum(rb.max_diff_rate) ? `diff ≤ ${pct(rb.max_diff_rate, 1)}` : null,
                    isNum(rb.max_error_rate) ? `errors ≤ ${pct(rb.max_error_rate, 1)}` : null,
                    isNum(rb.max_p95_ms) ? `p95 ≤ ${ms(rb.max_p95_ms)}` : null].filter(Boolean);
    if (limits.length) bar.append(el("span", { cls: "muted small push", text: `auto-rollback: ${limits.join(", ")} over ${rb.min_samples}` }));
    return bar;
  }

  function upstreamTable(ups) {
    return table(["upstream", "breaker", "failures", "req/s", "requests"], ups.map((u) =>
      el("tr", null, el("td", null, el("b", { text: u.name }), u.default ? el("span", { cls: "muted small", text: " (default)" }) : null,
          el("div", null, el("code", { cls: "muted", text: u.url }))),
        el("td", null, badge(u.breaker, BREAKER_CLASS[u.breaker])),
        el("td", { cls: "num", text: num(u.failures), title: `opened ${num(u.opens)} times` }),
        el("td", { cls: "num", text: rps(u.rate_rps) }), el("td", { cls: "num", text: num(u.requests_total) }))));
  }

  function ledgerTable(records) {
    if (!records.length) return el("p", { cls: "muted", text: "No flips recorded yet." });
    return table(["time", "actor", "feature", "change", "reason"], records.map((r) =>
      el("tr", { cls: "ledger-row" }, el("td", { cls: "nowrap", text: when(r.ts) }), el("td", { text: r.actor }),
        el("td", null, el("b", { text: r.feature })),
        el("td", { cls: "nowrap" }, badge(stateLabel(r.from_state, r.from_percent), STATE_CLASS[r.from_state]), " → ",
          badge(stateLabel(r.to_state, r.to_percent), STATE_CLASS[r.to_state]), r.forced ? badge("forced", "bad") : null),
        el("td", { cls: "reason", text: r.reason || "" }))), "ledger");
  }

  // ------------------------------------------------------------------------------------------ flips
  function openFlip(f, control) {
    const to = control.to;
    flipTarget = { feature: f.name, to };
    $("flip-title").textContent = `Flip ${f.name}`;
    $("flip-summary").replaceChildren(el("b", { text: f.name }), ": ",
      badge(stateLabel(f.state, f.canary_percent), STATE_CLASS[f.state]), " → ", badge(to, STATE_CLASS[to]));
    $("flip-percent-row").hidden = to !== "canary";
    $("flip-percent").required = to === "canary";
    $("flip-percent").value = to === "canary" ? String(f.state === "canary" && f.canary_percent ? f.canary_percent : 10) : "";
    $("flip-reason").value = "";
    $("flip-evidence").textContent = `Recorded in the ledger with ${f.name}'s recent parity: ${control.evidence_text}`;
    $("flip-error").hidden = true;
    $("flip-confirm").disabled = false;
    $("flip-dialog").showModal();
    $("flip-reason").focus();
  }

  function showFlipError(message, reasons) {
    $("flip-error-message").textContent = message;
    $("flip-reasons").replaceChildren(...(reasons || []).map((r) => el("li", { text: r })));
    $("flip-error").hidden = false;
  }

  async function submitFlip(ev) {
    ev.preventDefault();
    if (!flipTarget) return;
    const body = { feature: flipTarget.feature, to: flipTarget.to, reason: $("flip-reason").value.trim() };
    if (!body.reason) { showFlipError("Give a reason: it goes into the ledger.", []); return; }
    if (flipTarget.to === "canary") body.percent = Number($("flip-percent").value);
    $("flip-confirm").disabled = true;
    try {
      const r = await fetch("/flip", { method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF }, body: JSON.stringify(body) });
      if (r.status === 401) { window.location.assign("/ui/login"); return; }
      const answer = await r.json().catch(() => ({ message: `HTTP ${r.status}` }));
      if (!r.ok) {
        const reasons = answer.reasons || [];
        const message = reasons.length ? String(answer.message || "").split("\n")[0] : String(answer.message || `HTTP ${r.status}`);
        showFlipError(message, reasons);
        return;
      }
      const rec = answer.flip;
      $("flip-dialog").close();
      notice(answer.changed ? `${rec.feature}: ${stateLabel(rec.from_state, rec.from_percent)} → ${stateLabel(rec.to_state, rec.to_percent)} (live in table v${answer.table_version}, recorded in the ledger)`
        : `${rec.feature} is already ${stateLabel(rec.to_state, rec.to_percent)}; nothing changed.`);
      poll();
    } catch (err) {
      showFlipError(`Could not reach the façade: ${err.message || err}`, []);
    } finally {
      $("flip-confirm").disabled = false;
    }
  }

  function notice(text) {
    const n = $("notice");
    n.textContent = text;
    n.hidden = false;
    clearTimeout(notice.timer);
    notice.timer = setTimeout(() => { n.hidden = true; }, 8000);
  }

  // #/feature/NAME shows that feature's drill-down instead of the overview.
  function route() {
    const m = /^#\/feature\/(.+)$/.exec(window.location.hash);
    document.body.classList.toggle("drilling", Boolean(m));
    if (m) viewer().renderDrill(decodeURIComponent(m[1]), $("drill"));
    else $("drill").replaceChildren();
  }

  document.addEventListener("DOMContentLoaded", () => {
    window.addEventListener("hashchange", route);
    route();
    viewer().footprint($("footprint"));
    $("flip-form").addEventListener("submit", submitFlip);
    $("flip-cancel").addEventListener("click", () => $("flip-dialog").close());
    poll();
  });
})();
