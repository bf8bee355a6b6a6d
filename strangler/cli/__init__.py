"""`strangler` console entry point: imports each command module so it registers on the root app."""
from strangler.cli.app import app


def _register() -> None:
    import importlib

    for module in ("stack", "routes", "migrate"):
        importlib.import_module(f"strangler.cli.{module}")


def main() -> None:
    _register()
    app()
