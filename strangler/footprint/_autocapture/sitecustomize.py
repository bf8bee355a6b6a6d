"""Put on PYTHONPATH by `strangler analyze capture`: start SQL capture in any Python process, then hand over
to the sitecustomize this one shadows (if any), so the environment behaves as before."""
import importlib
import os
import sys

if os.environ.get("STRANGLER_SQL_CAPTURE"):
    try:
        from strangler.footprint import capture as _capture

        _capture.install()
    except Exception as _exc:  # never stop the user's program from starting
        print(f"strangler: SQL capture not installed: {_exc}", file=sys.stderr)

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
del sys.modules["sitecustomize"]
try:
    importlib.import_module("sitecustomize")
except ImportError:
    pass
