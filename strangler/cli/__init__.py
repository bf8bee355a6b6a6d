"""`strangler` console entry point: imports each command module so it registers on the root app."""
from strangler.cli.app import app


def _register() -> None:
    import importlib

    for module in ("stack", "routes", "migrate", "analyze", "parity", "load", "export"):
        importlib.import_module(f"strangler.cli.{module}")


def main() -> None:
    from strangler.gates import register_kit_gates

    _register()
    register_kit_gates()
    app()
