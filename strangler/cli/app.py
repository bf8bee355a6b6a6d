"""The root Typer app; command modules attach themselves to it on import."""
import typer

app = typer.Typer(
    name="strangler",
    help="Strangler-fig migration kit: run the stack, flip routes per feature, test parity and load, "
    "analyse SQL footprint and migrate data — with evidence at every step.",
    no_args_is_help=True,
    add_completion=False,
)
