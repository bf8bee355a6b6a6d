// Strangler dashboard, detail views: the difference viewer (a field's stored examples, both answers side by
// side with the differing JSON paths marked, the repro downloads and "add ignore rule"), a feature's
// drill-down page (#/feature/NAME) and the footprint picture. Same rules as app.js: textContent only, never
// an HTML sink; the one write (POST /ui/ignore) carries the session's CSRF token in a header.
(() => {
  "use strict";

  const CSRF = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const pct = (rate, digits = 1) => (isNum(rate) ? `${(rate * 100).toFixed(digits)}%` : "—");
  const ms = (v) => (isNum(v) ? (v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`) : "—");
  const num = (v) => (isNum(v) ? v.toLocaleString("en") : "—");
  const when = (iso) => (typeof iso === "string" ? iso.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, " UTC") : "—");

  const { el } = window.StranglerDom; // proxy/dashboard/dom.js
  function table(headers, rows, cls) {
    const head = el("tr", null, ...headers.map((h) => el("th", { text: h })));
    return el("div", { cls: "scroll" }, el("table", { cls: cls || "compact" }, el("thead", null, head), el("tbody", null, ...rows)));
  }
  function button(text, onClick, cls) {
    const b = el("button", { cls: cls || "", text });
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
    if (r.status === 401) { window.location.assign("/ui/login"); throw new Error("logged out"); }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.message || `HTTP ${r.status}`);
    return body;
  }

  // --------------------------------------------------------------------------------- difference viewer
  let dialog = null;
  function viewerDialog() {
    if (dialog) return dialog;
    dialog = el("dialog", { cls: "diff-dialog" });
    dialog.id = "diff-dialog";
    dialog.setAttribute("aria-labelledby", "diff-title");
    document.body.append(dialog);
    return dialog;
  }

  async function openExamples(feature, field) {
    const d = viewerDialog();
    const title = el("h3", { text: `${feature}: ${field}` });
    title.id = "diff-title";
    const close = button("Close", () => d.close());
    close.id = "diff-close";
    const body = el("div", { cls: "diff-body", text: "loading…" });
    d.replaceChildren(el("div", { cls: "diff-head" }, title, close), body);
    if (!d.open) d.showModal();
    close.focus();
    try {
      const view = await getJSON(`/ui/examples?feature=${encodeURIComponent(feature)}&field=${encodeURIComponent(field)}`);
      body.replaceChildren(...renderExamples(view));
    } catch (err) {
      body.replaceChildren(el("p", { cls: "bad", text: `Could not load the examples: ${err.message || err}` }));
    }
  }

  function renderExamples(view) {
    const out = [];
    const verdictCls = { real: "bad", noise: "warn", none: "muted" }[view.verdict] || "";
    out.push(el("p", null, "Verdict: ", el("span", { cls: `badge ${verdictCls}`, text: view.verdict || "none" }),
      " — ", view.verdict === "noise" ? "legacy also differs from itself here (noise)" :
        view.verdict === "real" ? "the candidate differs where legacy agrees with itself (real)" : "not judged yet"));
    if ((view.rates || []).length) {
      out.push(table(["route", "differs (legacy vs candidate)", "noise (legacy vs legacy)", "verdict"], view.rates.map((r) =>
        el("tr", null, el("td", null, el("code", { text: r.route })),
          el("td", { cls: "num", text: `${pct(r.raw_rate)} (${num(r.raw)} of ${num(r.compared)})` }),
          el("td", { cls: "num", text: pct(r.noise_rate) }), el("td", { text: r.verdict })))));
    }
    const rules = view.rules || { ignore: [], normalise: {} };
    const normalise = Object.entries(rules.normalise || {}).map(([p, r]) => `${p} → ${r}`);
    out.push(el("p", { cls: "small" }, "Rules in force: ignore ",
      el("code", { text: (rules.ignore || []).join(", ") || "none" }), " · normalise ",
      el("code", { text: normalise.join(", ") || "none" })));
    out.push(ignoreForm(view));
    if (!(view.examples || []).length) {
      out.push(el("p", { cls: "muted", text: view.note || "No stored example for this field (the store keeps a few per field)." }));
      return out;
    }
    view.examples.forEach((ex, i) => out.push(exampleBlock(ex, i + 1, view.examples.length)));
    return out;
  }

  function ignoreForm(view) {
    const box = el("div", { cls: "ignore-box" });
    if (view.ignored_already) {
      box.append(el("p", { cls: "ok", text: `${view.field} is ignored for ${view.feature} (rule in the route table).` }));
      return box;
    }
    const input = el("input");
    input.id = "ignore-rule";
    input.value = view.field;
    input.setAttribute("aria-label", "ignore rule (a JSON path)");
    const status = el("span", { cls: "small", text: "" });
    status.setAttribute("role", "status");
    const add = button("Add ignore rule", async () => {
      add.disabled = true;
      try {
        const r = await fetch("/ui/ignore", { method: "POST", credentials: "same-origin", cache: "no-store",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
          body: JSON.stringify({ feature: view.feature, rule: input.value.trim() }) });
        const answer = await r.json().catch(() => ({}));
        if (!r.ok) throw new Error(answer.message || `HTTP ${r.status}`);
        status.className = "small ok";
        status.textContent = answer.added.length ? `added ${answer.added.join(", ")} (route table v${answer.table_version}, recorded in the ledger)`
          : "already there; nothing changed";
      } catch (err) {
        status.className = "small bad";
        status.textContent = String(err.message || err);
      } finally {
        add.disabled = false;
      }
    });
    add.id = "ignore-add";
    box.append(el("label", { cls: "small", text: "Ignore this path for the feature (same code path as `strangler parity suggest-ignores --apply`, ledgered):" }),
      el("div", { cls: "ignore-row" }, input, add), status);
    return box;
  }

  function exampleBlock(ex, n, total) {
    const differing = new Set((ex.differences || []).map((d) => d.path));
    const ignored = new Set(ex.ignored || []);
    const normalised = new Map((ex.normalised || []).map((d) => [d.path, d.rule]));
    const req = ex.request || {};
    const head = el("p", { cls: "example-head" }, el("b", { text: `Example ${n} of ${total}` }), ` · #${ex.id} · ${when(ex.ts)} · `,
      el("code", { text: `${req.method} ${req.path}` }));
    const headers = el("p", { cls: "small" }, "Request headers present: ",
      el("code", { text: (req.header_names || []).join(", ") || "none" }),
      (req.redacted || []).length ? el("span", { cls: "muted", text: ` (values of ${req.redacted.join(", ")} redacted: never stored or shown)` }) : null);
    const diffs = (ex.differences || []).length
      ? table(["path", "kind", "legacy", "candidate"], ex.differences.map((d) => el("tr", null,
        el("td", null, el("code", { text: d.path })), el("td", { text: d.kind }),
        el("td", null, el("code", { text: JSON.stringify(d.reference) })), el("td", null, el("code", { text: JSON.stringify(d.candidate) })))))
      : el("p", { cls: "ok", text: "Equal under the rules in force now." });
    const applied = [...ignored].map((p) => `ignored ${p}`).concat([...normalised].map(([p, r]) => `normalised ${p} (${r})`));
    const sides = el("div", { cls: "side-by-side" },
      answer("legacy", ex.reference, differing, ignored, normalised), answer("candidate", ex.candidate, differing, ignored, normalised));
    const exp = ex.export || {};
    const cmd = el("code", { cls: "cmd", text: exp.command || "" });
    const links = el("p", { cls: "small export" }, "Reproduce: ", cmd, " or download ",
      el("a", { href: exp.curl, text: "curl script" }), " · ", el("a", { href: exp.pytest, text: "pytest file" }));
    return el("section", { cls: "example" }, head, headers, diffs,
      applied.length ? el("p", { cls: "small muted", text: `Rules applied: ${applied.join("; ")}` }) : null, sides, links);
  }

  function answer(side, data, differing, ignored, normalised) {
    const box = el("div", { cls: `answer answer-${side}` });
    if (!data) {
      box.append(el("h4", { text: side }), el("p", { cls: "muted", text: "no answer stored" }));
      return box;
    }
    box.append(el("h4", { text: `${side} · ${data.status} · ${data.content_type || "no content type"}` }));
    const pre = el("pre", { cls: "json" });
    for (const line of data.lines || []) {
      let cls = "";
      let mark = "  ";
      if (line.path && differing.has(line.path)) { cls = "diff-line"; mark = "≠ "; }
      else if (line.path && ignored.has(line.path)) { cls = "ignored-line"; mark = "~ "; }
      else if (line.path && normalised.has(line.path)) { cls = "normalised-line"; mark = "≈ "; }
      const row = el("span", { cls: `line ${cls}`, text: mark + line.text, title: line.path || "" });
      if (cls === "diff-line") row.dataset.path = line.path;
      pre.append(row, "\n");
    }
    box.append(pre);
    if (data.truncated) box.append(el("p", { cls: "small muted", text: "(cut: the store keeps the first 64 KiB)" }));
    return box;
  }

  // ------------------------------------------------------------------------------------------ drill-down
  async function renderDrill(name, host) {
    host.replaceChildren(el("p", { cls: "muted", text: `loading ${name}…` }));
    try {
      const d = await getJSON(`/ui/feature/${encodeURIComponent(name)}`);
      const again = button("refresh", () => renderDrill(name, host), "small-btn");
      again.id = "drill-refresh";
      host.replaceChildren(...drill(d, again));
    } catch (err) {
      host.replaceChildren(el("p", { cls: "bad", text: `Could not load ${name}: ${err.message || err}` }));
    }
  }

  function drill(d, again) {
    const out = [el("p", { cls: "drill-nav" }, el("a", { href: "#", text: "← all features" }), " ", again,
      el("span", { cls: "muted small", text: ` as of ${new Date().toLocaleTimeString("en-GB")}` })),
      el("h2", { text: `${d.name} · ${d.state}${d.state === "canary" ? ` ${d.canary_percent}%` : ""} · target ${d.target}` })];
    const c = d.cohort || {};
    out.push(el("div", { cls: "block card" }, el("h4", { text: "Canary cohort split" }),
      el("p", null, `configured ${isNum(c.configured_percent) ? c.configured_percent + "%" : "—"} to the target · observed `,
        el("b", { text: isNum(c.observed_percent) ? `${c.observed_percent}%` : "—" }),
        ` of ${num(c.requests)} requests in the last ${Math.round(d.window_s)} s (${num(c.target_requests)} reached the target)`)));
    const rt = d.routes_traffic || [];
    out.push(el("div", { cls: "block card" }, el("h4", { text: `Traffic per route (last ${Math.round(d.window_s)} s, façade access log)` }),
      rt.length ? table(["route", "side", "requests", "req/s", "5xx", "p50", "p95", "fallbacks"], rt.map((r) => el("tr", null,
        el("td", null, el("code", { text: r.route })), el("td", { text: r.upstream }), el("td", { cls: "num", text: num(r.requests) }),
        el("td", { cls: "num", text: isNum(r.rate_rps) ? `${r.rate_rps}/s` : "—" }),
        el("td", { cls: `num ${r.errors ? "bad" : ""}`, text: `${pct(r.error_rate)} (${num(r.errors)})` }),
        el("td", { cls: "num", text: ms(r.p50_ms) }), el("td", { cls: "num", text: ms(r.p95_ms) }),
        el("td", { cls: "num", text: num(r.fallbacks) }))))
        : el("p", { cls: "muted", text: d.access_log ? "No requests in the window." : "The façade writes no access log (--set strangler_access_log=FILE)." })));
    const sc = d.shadow_copies || [];
    out.push(el("div", { cls: "block card" }, el("h4", { text: "Parity and shadow copies per route (recent window, rules in force)" }),
      sc.length ? table(["route", "copies", "equal", "failed", "p50", "p95", "why they failed"], sc.map((s) => el("tr", null,
        el("td", null, el("code", { text: s.route })), el("td", { cls: "num", text: num(s.copies) }),
        el("td", { cls: "num", text: `${pct(s.parity_rate)} (${num(s.mismatches)} differ)` }),
        el("td", { cls: `num ${s.errors ? "bad" : ""}`, text: num(s.errors) }),
        el("td", { cls: "num", text: ms(s.p50_ms) }), el("td", { cls: "num", text: ms(s.p95_ms) }),
        el("td", { cls: "reason", text: s.error_causes.map((e) => `${e.cause} ×${e.count}`).join("; ") || "—" }))))
        : el("p", { cls: "muted", text: d.shadow_note || "No comparisons recorded for this feature." })));
    const p = d.parity;
    out.push(el("div", { cls: "block card" }, el("h4", { text: "Parity per field" }),
      p && p.top_fields.length ? table(["field", "route", "differs", "verdict", ""], p.top_fields.map((f) => el("tr", null,
        el("td", null, el("code", { text: f.field })), el("td", null, el("code", { text: f.route })),
        el("td", { cls: "num", text: pct(f.raw_rate) }), el("td", { text: f.verdict }),
        el("td", null, button("examples", () => openExamples(d.name, f.field), "small-btn")))))
        : el("p", { cls: "muted", text: p ? "No field has differed." : "No comparisons yet." })));
    const o = d.ownership;
    out.push(el("div", { cls: "block card" }, el("h4", { text: "Data ownership" }),
      o ? el("div", null, el("p", { text: `writes owned by ${o.writes_owner || "unknown"} · sync ${o.sync.direction || "off"}${isNum(o.sync.lag_s) ? ` lag ${o.sync.lag_s.toFixed(1)} s` : ""}` }),
        table(["table", "rows", "backfilled", "verified"], o.tables.map((t) => el("tr", null, el("td", null, el("code", { text: t.name })),
          el("td", { cls: "num", text: num(t.rows) }), el("td", { text: t.backfilled_at ? `yes, ${when(t.backfilled_at)}` : "no" }),
          el("td", { text: t.verified_at ? `yes, ${when(t.verified_at)}` : "no" })))))
        : el("p", { cls: "muted", text: "No data-migration record for this feature." })));
    const led = d.feature_ledger || [];
    out.push(el("div", { cls: "block card" }, el("h4", { text: "Ledger of this feature (latest first)" }),
      led.length ? table(["time", "actor", "change", "evidence", "reason"], led.map((r) => el("tr", null,
        el("td", { cls: "nowrap", text: when(r.ts) }), el("td", { text: r.actor }),
        el("td", { cls: "nowrap", text: `${r.from_state} → ${r.to_state}${r.to_percent ? ` ${r.to_percent}%` : ""}` }),
        el("td", { cls: "small", text: evidenceText(r.evidence) }), el("td", { cls: "reason", text: r.reason || "" }))), "compact ledger")
        : el("p", { cls: "muted", text: "Nothing recorded for this feature yet." })));
    return out;
  }

  function evidenceText(e) {
    if (!e || typeof e !== "object") return "";
    if (isNum(e.samples)) return `diff ${pct(e.diff_rate)}, errors ${pct(e.error_rate)}, ${e.samples} samples`;
    if (e.action) return String(e.action);
    return "";
  }

  // ------------------------------------------------------------------------------------------ footprint
  function footprint(host) {
    const img = el("img", { cls: "footprint" });
    img.alt = "SQL footprint: modules as boxes, arrows for reads and writes of another module's tables";
    img.addEventListener("error", () => host.replaceChildren(el("p", { cls: "muted",
      text: "No footprint picture yet: `strangler analyze` draws it (var/footprint/footprint.svg)." })));
    img.src = "/ui/footprint.svg";
    host.replaceChildren(el("a", { href: "/ui/footprint.svg", title: "open the picture on its own" }, img));
  }

  window.StranglerViewer = { openExamples, renderDrill, footprint };
})();
