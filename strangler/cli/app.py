"""The root Typer app; command modules attach themselves to it on import."""
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup, TyperOption

from proxy.env import var_dir_from
from strangler.cli.output import USAGE, CommandError, report
from strangler.procs import PortRangeError
from strangler.project import ProjectError
from strangler.settings import KitSettings, get_settings


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    """A flag takes no value, so its help shows no type. Typer 0.29 renders the type column from
    display_type_rich, which (unlike its own get_help_record) forgets `is_flag`: every flag read
    `--force <bool>`, `--help <bool>` as if it took a value. Checked by tests/unit/test_cli_help.py."""
    if self.is_flag or self.count:
        return None
    return _typed(self, ctx)


_typed = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


class KitGroup(TyperGroup):
    """A missing or broken project is one line and exit 2 from any command (raised where a command first
    needs a project-relative path, so commands given explicit paths work without a project)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            # data-plane code run by the command (ledger, parity store; any thread) uses its var dir
            with var_dir_from(lambda: (ctx.obj if isinstance(ctx.obj, KitSettings) else get_settings()).var_dir):
                return super().invoke(ctx)
        except (ProjectError, PortRangeError) as exc:
            raise report(exc, USAGE) from None
        except CommandError as exc:
            raise report(exc) from None


app = typer.Typer(
    name="strangler",
    cls=KitGroup,
    help="Strangler-fig migration kit: run the stack, flip routes per feature, test parity and load, "
    "analyse SQL footprint and migrate data — with evidence at every step.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _group(ctx: typer.Context, project: Annotated[Path | None, typer.Option(
        "--project", metavar="DIR", show_default=False,
        help="Project folder (holds strangler.yaml). Default: $STRANGLER_PROJECT, else the first folder with "
             "strangler.yaml from the current directory upwards.")] = None) -> None:
    # The one settings object of this invocation; commands read it with strangler.settings.get_settings().
    # (The callback also keeps `strangler` a command group when a call imports only one command module.)
    ctx.obj = KitSettings.load(project)
