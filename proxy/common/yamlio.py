"""The kit's one way to read a YAML config file: round-trip parsed so every node keeps its line, syntax errors
with the line they are on, plain Python values for pydantic, and `${NAME}` / `${NAME:-default}` expansion.

Why one module: the route table, the stack file, the mix file and the migration/footprint configs all point an
operator at "<file>:<line>"; four copies of this drifted (one lost the line of a duplicate key, one treated an
empty variable as set). Each caller still words its own message: this module gives it the facts.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class YamlSyntaxError(ValueError):
    """Text that is not YAML. `line` is 1-based (None when the parser gave no position), `problem` the parser's
    own words, `duplicate_key` whether a mapping repeats a key, and str() the parser's full message."""

    def __init__(self, message: str, *, line: int | None, problem: str, duplicate_key: bool = False):
        super().__init__(message)
        self.line, self.problem, self.duplicate_key = line, problem, duplicate_key


def parse_yaml(text: str) -> Any:
    """Round-trip parse: mappings and lists keep their line numbers (see `line_of`). Raises YamlSyntaxError."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(str(exc), line=mark.line + 1 if mark is not None else None,
                              problem=exc.problem or exc.context or str(exc).splitlines()[0],
                              duplicate_key=isinstance(exc, DuplicateKeyError)) from None
    except (YAMLError, ValueError) as exc:  # unmarked: a character YAML does not allow, bad unicode
        raise YamlSyntaxError(str(exc), line=None, problem=str(exc)) from None


def line_of(doc: Any, loc: Sequence[Any]) -> int | None:
    """1-based line of the deepest node along `loc` present in a `parse_yaml` document; None when not even
    `loc[0]` is there."""
    line, node = None, doc
    for key in loc:
        lc = getattr(node, "lc", None)
        if isinstance(node, dict) and key in node:
            line = lc.key(key)[0] + 1 if lc is not None else line
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            line = lc.item(key)[0] + 1 if lc is not None else line
        else:
            break
        node = node[key]
    return line


def plain(node: Any) -> Any:
    """A `parse_yaml` document as plain dicts, lists, str, int, float, bool and None (keys as str), which is
    what the pydantic models validate."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    for kind in (str, int, float):
        if isinstance(node, kind):
            return kind(node)
    return node


def expand_env(text: str, unset: Callable[[str], Exception], environ: Mapping[str, str] | None = None) -> str:
    """`${NAME}` / `${NAME:-default}` replaced from `environ` (the process environment by default). An empty
    variable counts as unset; an unset one without a default raises `unset(NAME)`, the caller's own error."""
    if "${" not in text:
        return text
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found:
            return found
        if default is not None:
            return default
        raise unset(name)

    return ENV_REF.sub(value, text)


__all__ = ["ENV_REF", "YamlSyntaxError", "expand_env", "line_of", "parse_yaml", "plain"]
