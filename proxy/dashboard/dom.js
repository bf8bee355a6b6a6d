// Strangler dashboard, the one DOM builder every page script uses (app.js, viewer.js): strings become text
// nodes and attributes are set one by one, so nothing from a route table, a field path or a ledger reason can
// ever be parsed as HTML. Loaded first (page.html); exposes window.StranglerDom.
(() => {
  "use strict";

  // el("td", {cls: "x", text: value, title: "...", href: "#/...", colspan: 2}, child, ...)
  function el(tag, opts, ...children) {
    const node = document.createElement(tag);
    if (opts) {
      if (opts.cls) node.className = opts.cls;
      if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
      if (opts.title) node.title = String(opts.title);
      if (opts.href) node.setAttribute("href", opts.href);
      if (opts.colspan) node.colSpan = opts.colspan;
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  window.StranglerDom = Object.freeze({ el });
})();
