"""Invalid tables: each error names the file, the exact line, the problem and the fix."""
from __future__ import annotations

from pathlib import Path

import pytest

from proxy.table import TableError, load_table, parse_table
from tests.unit.route_table_fixtures import TABLE

# (id, replace this, with that, expected line, words in the problem, words in the fix)
CASES = [
    ("yaml-syntax", "default: old", "default: [old", 8, ["invalid YAML"], ["syntax"]),
    ("yaml-duplicate-key", "default: old", "default: old\ndefault: alpha", 8, ["duplicate key"], ["duplicate"]),
    ("unknown-key", "    state: legacy", "    stat: legacy", 12, ["unknown key 'stat'", "did you mean 'state'"],
     ["target", "canary_percent"]),
    ("unknown-top-key", "features:", "feature:", 8, ["'feature'", "did you mean 'features'"], ["upstreams"]),
    ("unknown-nested-key", 'dry_run_writes: true}', 'dry_run_write: true}', 4,
     ["did you mean 'dry_run_writes'"], ["timeout_s"]),
    ("unknown-upstream", "target: alpha", "target: alpah", 11, ["unknown upstream 'alpah'"],
     ["old, alpha, beta", "did you mean 'alpha'"]),
    ("unknown-default", "default: old", "default: nope", 7, ["default", "'nope'"], ["old, alpha, beta"]),
    ("target-is-default", "target: beta", "target: old", 17, ["default upstream"], ["new service"]),
    ("bad-state", "state: shadow", "state: shadw", 18, ["unknown state 'shadw'", "did you mean 'shadow'"],
     ["legacy, shadow, canary, new, retired"]),
    ("canary-without-percent", "    state: legacy", "    state: canary", 12, ["canary needs canary_percent"],
     ["0 < N <= 100"]),
    ("canary-zero-percent", "state: shadow\n    canary_percent: 25", "state: canary\n    canary_percent: 0", 18,
     ["canary needs canary_percent"], ["0 < N <= 100"]),
    ("percent-too-high", "canary_percent: 25", "canary_percent: 150", 19, ["out of range", "150"], ["100"]),
    ("percent-negative", "canary_percent: 25", "canary_percent: -1", 19, ["out of range"], ["100"]),
    ("percent-not-a-number", "canary_percent: 25", "canary_percent: lots", 19, ["valid number"], ["type"]),
    ("template-no-slash", '"/api/things"}', '"api/things"}', 14, ["must start with '/'"], ["{name}"]),
    ("template-rest-not-last", '"/api/widgets/{rest:path}"', '"/api/{rest:path}/x"', 21, ["last segment"],
     ["{name:path}"]),
    ("template-partial-param", '"/api/things/{id}"', '"/api/things/x{id}"', 15, ["not a literal"], ["{name}"]),
    ("template-dup-param", '"/api/things/{id}"', '"/api/{id}/{id}"', 15, ["twice"], ["{name}"]),
    ("template-empty-segment", '"/api/things"}', '"/api//things"}', 14, ["empty segment"], ["{name}"]),
    ("template-trailing-slash", '"/api/things"}', '"/api/things/"}', 14, ["trailing slash"], ["{name}"]),
    ("template-query", '"/api/things"}', '"/api/things?x=1"}', 14, ["query"], ["{name}"]),
    ("bad-method", "[GET, PUT]", "[GET, PUTT]", 15, ["unknown HTTP method 'PUTT'"], ["PATCH"]),
    ("star-with-others", '["*"]', '["*", GET]', 21, ["every method"], ["alone"]),
    ("route-claimed-twice", '"/api/widgets/{rest:path}"}',
     '"/api/widgets/{rest:path}"}\n      - {path: "/api/things/{x}"}',
     22, ["GET /api/things/{x} is already claimed by feature 'one'", "(line 15)"], ["one feature only"]),
    ("route-claimed-by-star", '"/api/things"}',
     '"/api/things"}\n      - {methods: [POST], path: "/api/widgets/{r:path}"}',
     22, ["* /api/widgets/{rest:path} is already claimed by feature 'one'", "(line 15)"], ["one feature only"]),
    ("bad-url-scheme", "http://127.0.0.1:8102", "ftp://127.0.0.1:8102", 6, ["not an http(s) URL"], ["http://HOST:PORT"]),
    ("bad-url-path", "http://127.0.0.1:8102", "http://127.0.0.1:8102/api", 6, ["path"], ["http://HOST:PORT"]),
    ("bad-url-port", "http://127.0.0.1:8102", "http://127.0.0.1:99999", 6, ["not a valid URL"], ["http://HOST:PORT"]),
    ("remote-upstream", "http://127.0.0.1:8102", "http://example.com:8102", 6, ["non-loopback host"],
     ["allow_remote_upstreams"]),
    ("missing-target", "    target: beta\n", "", 16, ["missing key 'features.two.target'"], ["add 'target:'"]),
    ("no-routes", '    routes:\n      - {methods: ["*"], path: "/api/widgets/{rest:path}"}', "    routes: []", 20,
     ["must not be empty"], ["at least one"]),
    ("sample-rate", "    state: legacy", "    state: legacy\n    parity: {sample_rate: 2}", 13, ["out of range"],
     ["between 0 and 1"]),
    ("json-path", "    state: legacy", "    state: legacy\n    parity: {ignore: [ServerTime]}", 13,
     ["not a JSON path"], ["$"]),
]


@pytest.mark.parametrize(("case", "old", "new", "line", "problem_words", "fix_words"), CASES,
                         ids=[c[0] for c in CASES])
def test_invalid_table_names_line_problem_and_fix(case, old, new, line, problem_words, fix_words):
    assert old in TABLE, f"case {case}: test text out of date"
    with pytest.raises(TableError) as info:
        parse_table(TABLE.replace(old, new, 1), source="routes.yaml")
    err = info.value
    assert (err.file, err.line) == ("routes.yaml", line), str(err)
    for word in problem_words:
        assert word in err.problem, str(err)
    for word in fix_words:
        assert word in err.fix, str(err)
    assert str(err).startswith(f"routes.yaml:{line}: ") and ". Fix: " in str(err)


def test_several_errors_are_all_reported():
    text = TABLE.replace("state: legacy", "state: nope").replace("state: shadow", "stat: shadow")
    with pytest.raises(TableError) as info:
        parse_table(text, source="t.yaml")
    lines = str(info.value).splitlines()
    assert [i.line for i in info.value.issues] == [12, 18]
    assert lines[0].startswith("t.yaml:12: ") and lines[1].startswith("t.yaml:18: ")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_non_mapping_document(text):
    with pytest.raises(TableError) as info:
        parse_table(text, source="t.yaml")
    assert info.value.line == 1 and "mapping" in info.value.problem


def test_missing_file_names_the_path_and_the_setting(tmp_path: Path):
    with pytest.raises(TableError) as info:
        load_table(tmp_path / "absent.yaml")
    assert str(tmp_path / "absent.yaml") in str(info.value)
    assert "STRANGLER_ROUTES_FILE" in info.value.fix and info.value.line is None


def test_load_table_reports_the_real_file_name(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text(TABLE.replace("target: alpha", "target: gamma"))
    with pytest.raises(TableError, match=rf"^{path}:11: feature 'one' targets unknown upstream 'gamma'"):
        load_table(path)
