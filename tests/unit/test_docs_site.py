"""The documentation site builds in strict mode (a broken link or anchor, a page missing from the nav, a failed
include of migration_plan.md or a generated reference page that no longer renders fails it), the generated
reference covers the code it is generated from, and every relative link of README.md resolves."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import gen_reference  # noqa: E402  (scripts/ is not a package)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # never --quiet: it drops warnings before strict mode counts them, and a broken link would pass
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def _text(html_file: Path) -> str:
    return re.sub(r"<[^>]+>", "", html_file.read_text())


def test_the_strict_build_renders_every_generated_page_and_the_walkthrough(site: Path) -> None:
    for rel in gen_reference.PAGES:
        assert (site / rel).with_suffix(".html").is_file(), f"{rel} missing from the built site"
    plan = (REPO / "migration_plan.md").read_text().splitlines()
    page = _text(site / "tutorials" / "walkthrough.html")
    first_heading = next(line for line in plan if line.startswith("# "))
    last_step = [line for line in plan if line.startswith("## ")][-1]  # the whole file, not its beginning
    assert first_heading[2:].strip() in page and last_step[3:].strip() in page


def test_the_cli_reference_has_every_command_with_its_options() -> None:
    page = gen_reference.cli_page()
    root = gen_reference._cli_root()

    def walk(cmd, path: list[str]) -> None:
        assert f"`{' '.join(path)}`" in page, f"{' '.join(path)} is not in the CLI reference"
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help" and not getattr(param, "hidden", False):
                    assert opt in page, f"{' '.join(path)} {opt} is not in the CLI reference"
        for name, sub in getattr(cmd, "commands", {}).items():
            if not sub.hidden:
                walk(sub, [*path, name])

    walk(root, ["strangler"])


def _keys(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    keys: set[str] = set()
    if model in seen:
        return keys
    seen.add(model)
    for name, field in model.model_fields.items():
        keys.add(field.alias or name)
        for inner in re.findall(r"[A-Za-z_]+", repr(field.annotation)):
            sub = getattr(sys.modules[model.__module__], inner, None)
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                keys |= _keys(sub, seen)
    return keys


@pytest.mark.parametrize(("page", "model"), [
    ("reference/route-table.md", "proxy.table:RouteTable"),
    ("reference/stack-file.md", "strangler.stack:StackConfig"),
    ("reference/footprint-config.md", "strangler.footprint.config:FootprintConfig"),
    ("reference/migrations-config.md", "strangler.migrate.config:FeatureMigration"),
])
def test_each_config_reference_lists_every_key_of_its_model(page: str, model: str) -> None:
    module, name = model.split(":")
    cls = getattr(__import__(module, fromlist=[name]), name)
    text = gen_reference.pages()[page]
    missing = sorted(key for key in _keys(cls, set()) if f"| `{key}` |" not in text)
    assert not missing, f"{page} lacks {missing}"


def test_the_environment_reference_lists_every_variable() -> None:
    from strangler.settings import VARIABLES

    text = gen_reference.environment_page()
    assert all(f"`{name}" in text for name in VARIABLES)


def test_a_committed_copy_of_a_generated_page_fails_the_build(tmp_path: Path) -> None:
    """The generated pages exist only in the build: a stale copy in docs/ would shadow them."""
    docs = tmp_path / "docs"
    (docs / "reference").mkdir(parents=True)
    (docs / "index.md").write_text("# x\n")
    (docs / "reference" / "cli.md").write_text("# stale\n")
    config = tmp_path / "mkdocs.yml"
    hook = REPO / "scripts" / "mkdocs_hooks.py"
    config.write_text(f"site_name: t\ndocs_dir: {docs}\nstrict: true\nhooks: [{hook}]\n")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                           "-d", str(tmp_path / "site")], cwd=tmp_path, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode != 0 and "docs/reference/cli.md is generated" in done.stdout + done.stderr


def test_every_relative_link_of_the_readme_resolves() -> None:
    readme = (REPO / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    relative = [link for link in links if not re.match(r"^[a-z]+:|^#", link)]
    assert relative, "README.md links nowhere: it should point into docs/"
    broken = [link for link in relative if not (REPO / link.split("#")[0]).exists()]
    assert not broken, f"README.md links to missing files: {broken}"


def test_every_facade_option_the_pages_set_exists() -> None:
    """Hand-written pages say `--set strangler_x=…`: each must be an option the façade's addons declare."""
    declared = set(re.findall(r"\| `(strangler_[a-z_]+)` \|", gen_reference.facade_options_page()))
    assert {"strangler_routes", "strangler_admin_port", "strangler_parity_db"} <= declared
    used = {(page.name, name) for page in (REPO / "docs").rglob("*.md")
            for name in re.findall(r"--set (strangler_[a-z_]+)=", page.read_text())}
    unknown = sorted(f"{page}: {name}" for page, name in used if name not in declared)
    assert used and not unknown, f"pages set façade options that do not exist: {unknown}"


_WORD = r"([a-z][a-z-]*)(?=[\s`]|$)"  # a command word: followed by a space, a backtick or the end
_COMMAND = re.compile(rf"(?<![\w./$-])strangler (?:--project \S+ )?{_WORD}(?: {_WORD})?")


def _code(text: str) -> list[str]:
    """Code blocks' lines and inline code spans: where a page shows a command to type."""
    return [line for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S) for line in block.splitlines()] + \
        re.findall(r"`([^`\n]+)`", text)


def test_every_command_the_pages_show_exists() -> None:
    """Prose drifts where the generated reference cannot: each `strangler CMD [SUB]` shown in code must exist."""
    root = gen_reference._cli_root()
    pages = [*(REPO / "docs").rglob("*.md"), REPO / "README.md", REPO / "migration_plan.md"]
    seen, unknown = 0, []
    for page in pages:
        for snippet in _code(page.read_text()):
            for word, sub in _COMMAND.findall(snippet):
                seen += 1
                command = root.commands.get(word)
                subs = getattr(command, "commands", None)
                if command is None or (subs and sub and sub not in subs):
                    unknown.append(f"{page.relative_to(REPO)}: {snippet.strip()[:80]}")
    assert seen > 50, f"only {seen} commands found in the pages: the pattern no longer matches them"
    assert not unknown, "pages show commands the CLI does not have:\n" + "\n".join(unknown)


def test_every_note_of_the_generator_names_a_key_that_exists() -> None:
    """gen_reference.NOTES explains keys whose model says nothing: a renamed key must not leave a dead note."""
    from proxy.table import RouteTable
    from strangler.footprint.config import FootprintConfig
    from strangler.migrate.config import FeatureMigration
    from strangler.stack import StackConfig

    keys: set[str] = set()
    for root in (RouteTable, StackConfig, FootprintConfig, FeatureMigration):
        seen: set[type[BaseModel]] = set()
        _keys(root, seen)
        keys |= {f"{model.__name__}.{field.alias or name}" for model in seen
                 for name, field in model.model_fields.items()}
    dead = sorted(set(gen_reference.NOTES) - keys)
    assert not dead, f"gen_reference.NOTES explains keys no model has: {dead}"
