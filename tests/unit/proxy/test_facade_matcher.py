"""The route matcher: most specific route wins, methods respected, same answers as the brute-force templates."""
from __future__ import annotations

import random

from proxy.matcher import Matcher
from proxy.table import parse_table


def _table(routes: list[tuple[str, list[str], str]]):
    lines = ["upstreams:", "  legacy: {url: 'http://127.0.0.1:5000'}", "  svc: {url: 'http://127.0.0.1:8101'}",
             "default: legacy", "features:"]
    for i, (feature, methods, path) in enumerate(routes):
        lines += [f"  {feature}_{i}:", "    target: svc", f"    routes: [{{methods: {methods}, path: '{path}'}}]"]
    return parse_table("\n".join(lines))


def test_literal_beats_param_beats_rest():
    m = Matcher(_table([("lit", ["GET"], "/a/b"), ("par", ["GET"], "/a/{x}"), ("rest", ["GET"], "/a/{r:path}")]))
    assert m.match("GET", "/a/b").feature == "lit_0"
    hit = m.match("GET", "/a/c")
    assert hit.feature == "par_1" and hit.params == {"x": "c"}
    hit = m.match("GET", "/a/c/d/e")
    assert hit.feature == "rest_2" and hit.params == {"r": "c/d/e"}


def test_backtracks_when_specific_branch_lacks_the_method():
    m = Matcher(_table([("lit", ["POST"], "/a/b"), ("par", ["GET"], "/a/{x}")]))
    assert m.match("GET", "/a/b").feature == "par_1"
    assert m.match("POST", "/a/b").feature == "lit_0"
    assert m.match("DELETE", "/a/b") is None


def test_any_method_query_and_trailing_slash():
    m = Matcher(_table([("any", ["*"], "/x/{id}")]))
    for method in ("GET", "PATCH", "DELETE"):
        assert m.match(method, "/x/1?q=2").params == {"id": "1"}
    assert m.match("GET", "/x/1/").feature == "any_0"
    assert m.match("GET", "/x") is None
    assert m.match("GET", "/x/1/2") is None


def test_agrees_with_brute_force_on_random_tables():
    rng = random.Random(7)
    words = ["a", "b", "c", "d"]
    routes, seen = [], set()
    for i in range(300):
        segs = [rng.choice(words + ["{p}", "{q}"]) for _ in range(rng.randint(1, 4))]
        segs = [s if s not in ("{p}", "{q}") else f"{{v{j}}}" for j, s in enumerate(segs)]
        if rng.random() < 0.15:
            segs[-1] = "{rest:path}"
        path = "/" + "/".join(segs)
        method = rng.choice(["GET", "POST"])
        shape = (method, tuple("*" if s.startswith("{") and not s.endswith(":path}") else s for s in segs))
        if shape in seen:
            continue
        seen.add(shape)
        routes.append((f"f{i}", [method], path))
    table = _table(routes)
    m = Matcher(table)
    flat = [(name, r) for name, f in table.features.items() for r in f.routes]
    for _ in range(2000):
        path = "/" + "/".join(rng.choice(words + ["zz"]) for _ in range(rng.randint(1, 5)))
        method = rng.choice(["GET", "POST"])
        candidates = [(r.template.specificity, name) for name, r in flat
                      if method in r.methods and r.template.match(path) is not None]
        hit = m.match(method, path)
        if not candidates:
            assert hit is None, (method, path)
        else:
            best = max(candidates)[0]
            assert hit is not None and table.features[hit.feature].routes[0].template.specificity == best
