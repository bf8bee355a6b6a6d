"""proxy/common/yamlio: the one YAML reader (lines, syntax errors, plain values, ${NAME} expansion)."""
from __future__ import annotations

import pytest

from proxy.common.yamlio import YamlSyntaxError, expand_env, line_of, parse_yaml, plain

DOC = """\
# a comment
top:
  list:
    - {name: a}
    - name: b
      port: 0x10
other: 1
"""


def test_line_of_points_at_the_deepest_node_that_exists() -> None:
    doc = parse_yaml(DOC)
    assert line_of(doc, ("top",)) == 2
    assert line_of(doc, ("top", "list", 1, "port")) == 6
    assert line_of(doc, ("top", "list", 7)) == 3        # no item 7: its list's line
    assert line_of(doc, ("missing", "x")) is None
    assert line_of(doc, ()) is None


def test_plain_gives_builtin_types_with_string_keys() -> None:
    value = plain(parse_yaml(DOC + "3: three\n"))
    assert value == {"top": {"list": [{"name": "a"}, {"name": "b", "port": 16}]}, "other": 1, "3": "three"}
    port = value["top"]["list"][1]["port"]
    assert type(port) is int and all(type(k) is str for k in value)


@pytest.mark.parametrize(("text", "line", "duplicate"), [
    ("a: [1\n", 2, False),
    ("a: 1\nb: 2\na: 3\n", 3, True),
    ("a:\n - x\n  b: 2\n", 3, False),
])
def test_syntax_errors_carry_their_line(text: str, line: int, duplicate: bool) -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml(text)
    assert (caught.value.line, caught.value.duplicate_key) == (line, duplicate)
    assert caught.value.problem and caught.value.problem in str(caught.value)


def test_expand_env_defaults_and_the_callers_error() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert expand_env("a${SET}b${EMPTY:-d}${NONE:-}", KeyError, env) == "axbd"
    assert expand_env("no refs", KeyError, {}) == "no refs"
    with pytest.raises(LookupError, match="EMPTY"):  # an empty variable is unset
        expand_env("${EMPTY}", lambda name: LookupError(name), env)
