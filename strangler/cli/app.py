"""The root Typer app; command modules attach themselves to it on import."""
import typer

app = typer.Typer(
    name="strangler",
    help="Strangler-fig migration kit: run the stack, flip routes per feature, test parity and load, "
    "analyse SQL footprint and migrate data — with evidence at every step.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    # Keeps `strangler` a command group even when a call imports only one command module (Typer would
    # otherwise run a lone command as the app itself and reject its name as an extra argument).
    pass
