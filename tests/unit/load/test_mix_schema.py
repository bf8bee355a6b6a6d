"""The mix file's schema (load/mix.py): FILE:LINE errors, headers with ${ENV}, and the docs site's mix-file
reference that documents it, generated from the models (scripts/gen_reference.py). No Locust is imported
here (load.mix is Locust-free on purpose)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from load.mix import MixError, load_mix, schema_rows

REPO = Path(__file__).resolve().parents[3]
MIX = """\
mixes:
  read:
    - name: one plant
      path: /plants/{id}
      params: {id: {range: [1, 3]}}
      headers:
        Authorization: "Bearer ${MIX_TEST_TOKEN}"
        X-Tenant: "${MIX_TEST_TENANT:-greenhouse}"
"""


def _error(tmp_path: Path, text: str, name: str = "read") -> str:
    path = tmp_path / "mix.yaml"
    path.write_text(text)
    with pytest.raises(MixError) as caught:
        load_mix(path, name)
    return str(caught.value)


def test_headers_expand_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MIX_TEST_TOKEN", "s3cret")
    monkeypatch.delenv("MIX_TEST_TENANT", raising=False)
    path = tmp_path / "mix.yaml"
    path.write_text(MIX)
    (entry,) = load_mix(path, "read")
    assert entry.headers == {"Authorization": "Bearer s3cret", "X-Tenant": "greenhouse"}


def test_an_unset_variable_is_named_with_its_line_and_the_header_value_is_not_shown(tmp_path, monkeypatch):
    monkeypatch.delenv("MIX_TEST_TOKEN", raising=False)
    message = _error(tmp_path, MIX)
    assert message.startswith(f"{tmp_path / 'mix.yaml'}:6: ")  # the headers: line
    assert "${MIX_TEST_TOKEN}, which is not set" in message and "Fix: export MIX_TEST_TOKEN" in message
    assert "Bearer" not in message


@pytest.mark.parametrize(("text", "line", "words"), [
    ("mixes:\n  read:\n    - path: /a\n      wieght: 2\n", 4, "wieght"),
    ("mixes:\n  read:\n    - path: /a/{id}\n      weight: 1\n", 3, "params does not define them"),
    ("mixes:\n  read:\n    - path: /a\n    - path: /b/{n}\n      params: {n: {range: [1]}}\n", 5, "range"),
    ("mixes:\n  read:\n    - path: /a\n      params: {n: {list: [1, 2]}}\n", 4, "list"),
    ("mixes:\n  read:\n    - path: /a\n      headers: {'Bad Name': x}\n", 4, "not a valid HTTP header name"),
    ("mixes:\n  read:\n    - path: /a\n     method: GET\n", 4, "invalid YAML"),
])
def test_bad_mixes_are_one_line_with_file_and_line(tmp_path, text, line, words):
    message = _error(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'mix.yaml'}:{line}: "), message
    assert words in message and "Fix:" in message and "\n" not in message


def test_unknown_mix_name_lists_the_names(tmp_path):
    assert "Fix: use one of read" in _error(tmp_path, MIX, "write")


def test_the_mix_file_reference_documents_every_key_of_the_schema():
    sys.path.insert(0, str(REPO / "scripts"))
    import gen_reference

    page = gen_reference.PAGES["reference/mix-file.md"]()
    assert "\n".join(schema_rows()) in page, "the mix-file reference lacks load.mix.schema_rows()"
    for key in ("name", "method", "path", "params", "headers", "json", "weight", "expect", "params.NAME.range"):
        assert f"| `{key}` |" in page


def test_the_demo_mix_validates():
    assert load_mix(REPO / "config" / "load-mix.yaml", "read")
