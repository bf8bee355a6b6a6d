"""Render a footprint analysis: rich tables (terminal), JSON, Markdown, Mermaid, Graphviz DOT and SVG.

Graphs show modules as nodes and one edge per (module → owner module) with the foreign tables and access
kinds as the label, so the picture is the coupling the migration has to cut.
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "markdown", "mermaid", "dot", "svg")


class RenderError(RuntimeError):
    """The output cannot be produced (e.g. an unknown format); the message says what to do."""


def render(analysis: dict[str, Any], fmt: str, feature: dict[str, Any] | None = None) -> str:
    if fmt == "json":
        return json.dumps(feature if feature is not None else analysis, indent=2) + "\n"
    if fmt == "markdown":
        return markdown(analysis, feature)
    if fmt == "mermaid":
        return mermaid(analysis)
    if fmt == "dot":
        return dot(analysis)
    if fmt == "svg":
        return svg(analysis)
    raise RenderError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _edges_by_pair(analysis: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in analysis["coupling"]:
        pairs[(e["module"], e["owner"])].append(f"{e['access']} {e['table']} ({e['reads'] + e['writes']})")
    return dict(sorted(pairs.items()))


def _graph_nodes(analysis: dict[str, Any]) -> list[str]:
    return sorted({row["module"] for row in analysis["extraction_order"]})


def mermaid(analysis: dict[str, Any]) -> str:
    ids = {m: f"m{i}" for i, m in enumerate(_graph_nodes(analysis))}
    lines = ["graph LR"]
    owned = {row["module"]: row["owns"] for row in analysis["extraction_order"]}
    for module, node in ids.items():
        tables = ", ".join(owned.get(module, [])) or "no tables"
        lines.append(f'  {node}["{module}<br/><small>{tables}</small>"]')
    for (src, dst), labels in _edges_by_pair(analysis).items():
        lines.append(f'  {ids[src]} -->|"{"<br/>".join(labels)}"| {ids[dst]}')
    return "\n".join(lines) + "\n"


_DOT_NL = "\\n"  # a line break inside a DOT label


def _dot_quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def dot(analysis: dict[str, Any]) -> str:
    lines = ["digraph footprint {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    owned = {row["module"]: row["owns"] for row in analysis["extraction_order"]}
    for module in _graph_nodes(analysis):
        label = module + _DOT_NL + (", ".join(owned.get(module, [])) or "no tables")
        lines.append(f"  {_dot_quote(module)} [label={_dot_quote(label)}];")
    for (src, dst), labels in _edges_by_pair(analysis).items():
        lines.append(f"  {_dot_quote(src)} -> {_dot_quote(dst)} [label={_dot_quote(_DOT_NL.join(labels))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def svg(analysis: dict[str, Any]) -> str:
    """Drawn in Python (strangler/footprint/svg.py): no Graphviz needed; `--format dot` stays for those who
    prefer Graphviz's layout."""
    from strangler.footprint.svg import render_svg

    return render_svg(analysis)


def markdown(analysis: dict[str, Any], feature: dict[str, Any] | None = None) -> str:
    s = analysis["stats"]
    out = ["# SQL footprint", "",
           f"Sources: {', '.join(analysis['sources']) or '-'}  ",
           (f"Statements: {s['statements']} ({s['distinct_shapes']} distinct shapes); analysed {s['analysed']}, "
            f"transaction/session control {s['control']}, unparseable {s['unparseable']}, "
            f"unreadable records {s['bad_records']}."), ""]
    if feature is not None:
        out += _feature_markdown(feature) + [""]
    out += ["## Modules", "", "| module | statements | reads | writes |", "|---|---|---|---|"]
    for name, m in analysis["modules"].items():
        out.append(f"| {name} | {m['statements']} | {_tables_text(m['reads'])} | {_tables_text(m['writes'])} |")
    out += ["", "## Table ownership", "", "| table | owner | basis | writers | readers |", "|---|---|---|---|---|"]
    for table, e in analysis["tables"].items():
        basis = e["owner_source"] + (f" (tie: {', '.join(e['tie'])})" if "tie" in e else "")
        out.append(f"| {table} | {e['owner'] or '-'} | {basis} | {_counts(e['writers'])} | {_counts(e['readers'])} |")
    if analysis.get("guessed_owners"):
        out += ["", pin_hint(analysis), "", "```yaml", pin_yaml(analysis), "```"]
    out += ["", "## Cross-module coupling", ""]
    if analysis["coupling"]:
        out += ["| module | table | owner | access | reads | writes | endpoints | example |",
                "|---|---|---|---|---|---|---|---|"]
        for e in analysis["coupling"]:
            example = e["examples"][0].replace("|", "\\|") if e["examples"] else ""
            out.append(f"| {e['module']} | {e['table']} | {e['owner']} | {e['access']} | {e['reads']} | "
                       f"{e['writes']} | {', '.join(e['endpoints']) or '-'} | `{example}` |")
    else:
        out.append("None: no module touches another module's tables.")
    out += ["", "## Suggested extraction order", ""]
    for row in analysis["extraction_order"]:
        out.append(f"{row['position']}. **{row['module']}** — {row['reason']}.")
    out += ["", "```mermaid", mermaid(analysis).rstrip(), "```", ""]
    if analysis["errors"]:
        out += ["## Unparseable statements", ""]
        for err in analysis["errors"]:
            out.append(f"- {err['count']}× `{err['sql'][:200]}` — {err['error']}")
        out.append("")
    return "\n".join(out)


def pin_hint(analysis: dict[str, Any]) -> str:
    guessed = sum(len(t) for t in analysis["guessed_owners"].values())
    return (f"{guessed} owner(s) guessed (basis above: name, then writes, then reads). Pin them under `modules:` "
            "in the footprint config (the project's config/footprint.yaml, or --config FILE):")


def pin_yaml(analysis: dict[str, Any]) -> str:
    return "modules:\n" + "".join(f"  {m}: [{', '.join(ts)}]\n" for m, ts in analysis["guessed_owners"].items())


def _feature_markdown(view: dict[str, Any]) -> list[str]:
    out = [f"## Feature `{view['feature']}` (modules: {', '.join(view['modules'])})", "",
           "Tables that move with it: " + (", ".join(
               f"{t['table']}{' (written)' if t['written'] else ''}" for t in view["tables_to_move"]) or "none"), ""]
    for title, key in (("Its foreign accesses — must go through the ACL", "acl_outbound"),
                       ("Other modules touching its tables — must switch to its API/ACL", "acl_inbound")):
        out.append(f"**{title}:**")
        rows = view[key]
        out += [f"- {e['module']} {e['access']} {e['table']} (owner {e['owner']}; {e['reads']} reads, "
                f"{e['writes']} writes; endpoints: {', '.join(e['endpoints']) or '-'})" for e in rows] or ["- none"]
        out.append("")
    return out


def _tables_text(side: dict[str, Any]) -> str:
    return ", ".join(f"{t} ({v['count']})" for t, v in side.items()) or "-"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{m} {n}" for m, n in sorted(counts.items())) or "-"


def print_tables(analysis: dict[str, Any], console: Console, feature: dict[str, Any] | None = None) -> None:
    """The default terminal view."""
    s = analysis["stats"]
    console.print(f"[bold]SQL footprint[/] of {s['statements']} statements ({s['distinct_shapes']} shapes): "
                  f"analysed {s['analysed']}, control {s['control']}, unparseable {s['unparseable']}, "
                  f"unreadable records {s['bad_records']}")
    if feature is not None:
        _print_feature(feature, console)
    modules = Table(title="Modules", title_justify="left")
    for col in ("module", "statements", "reads", "writes"):
        modules.add_column(col)
    for name, m in analysis["modules"].items():
        modules.add_row(name, str(m["statements"]), _tables_text(m["reads"]), _tables_text(m["writes"]))
    console.print(modules)
    owners = Table(title="Table ownership", title_justify="left")
    for col in ("table", "owner", "basis", "writers", "readers"):
        owners.add_column(col)
    for table, e in analysis["tables"].items():
        basis = e["owner_source"] + (f" [yellow](tie: {', '.join(e['tie'])})[/]" if "tie" in e else "")
        owners.add_row(table, e["owner"] or "-", basis, _counts(e["writers"]), _counts(e["readers"]))
    console.print(owners)
    if analysis.get("guessed_owners"):
        console.print(pin_hint(analysis), highlight=False)
        console.print(pin_yaml(analysis), highlight=False, markup=False)
    coupling = Table(title="Cross-module coupling", title_justify="left")
    for col in ("module", "table", "owner", "access", "reads", "writes", "endpoints"):
        coupling.add_column(col)
    for e in analysis["coupling"]:
        coupling.add_row(e["module"], e["table"], e["owner"], e["access"], str(e["reads"]), str(e["writes"]),
                         ", ".join(e["endpoints"]) or "-")
    console.print(coupling if analysis["coupling"] else "[green]No cross-module coupling found.[/]")
    order = Table(title="Suggested extraction order", title_justify="left")
    for col in ("#", "module", "in", "out", "why"):
        order.add_column(col)
    for row in analysis["extraction_order"]:
        order.add_row(str(row["position"]), row["module"], str(row["inbound"]), str(row["outbound"]), row["reason"])
    console.print(order)
    if analysis["errors"]:
        errors = Table(title=f"Unparseable statements (first {len(analysis['errors'])})", title_justify="left")
        for col in ("count", "statement", "error"):
            errors.add_column(col)
        for err in analysis["errors"]:
            errors.add_row(str(err["count"]), err["sql"][:160], err["error"])
        console.print(errors)


def _print_feature(view: dict[str, Any], console: Console) -> None:
    console.print(f"\n[bold]Feature {view['feature']}[/] (modules: {', '.join(view['modules'])})")
    moving = ", ".join(f"{t['table']}{' (written)' if t['written'] else ''}" for t in view["tables_to_move"])
    console.print(f"Tables that move with it: {moving or 'none'}")
    for title, key in (("Its foreign accesses (go through the ACL)", "acl_outbound"),
                       ("Other modules touching its tables (switch to its API/ACL)", "acl_inbound")):
        table = Table(title=title, title_justify="left")
        for col in ("module", "table", "owner", "access", "endpoints", "example"):
            table.add_column(col)
        for e in view[key]:
            table.add_row(e["module"], e["table"], e["owner"], e["access"], ", ".join(e["endpoints"]) or "-",
                          (e["examples"] or [""])[0][:100])
        console.print(table if view[key] else f"{title}: none")
    console.print()
