"""Put on PYTHONPATH by `strangler analyze capture`: start SQL capture in the app's own interpreter (any
Python >= 3.8, any virtualenv; neither the kit nor this package need be installed there), then run the
sitecustomize this one shadows (e.g. Debian's), so the environment behaves as before.

sqlcapture.py is loaded from its file next to this folder, under a private name: the app may have its own
(other) version of strangler_app installed, which stays untouched.
"""
import importlib.machinery
import importlib.util
import os
import sys
import types

_here = os.path.dirname(os.path.abspath(__file__))


def _load(name: str, path: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("no module at %s" % (path,))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if os.environ.get("STRANGLER_SQL_CAPTURE"):
    try:
        _load("_strangler_sqlcapture", os.path.join(os.path.dirname(_here), "sqlcapture.py")).install_when_imported()
    except Exception as _exc:  # noqa: BLE001 - never stop the user's program from starting
        sys.stderr.write("strangler: SQL capture not installed: %s\n" % (_exc,))

# The sitecustomize we shadow, if any: run it as `sitecustomize` (site.py imports only one).
_rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
_spec = importlib.machinery.PathFinder.find_spec("sitecustomize", _rest)
if _spec is not None and _spec.loader is not None and _spec.origin != os.path.abspath(__file__):
    _other = importlib.util.module_from_spec(_spec)
    sys.modules["sitecustomize"] = _other  # the import machinery keeps whatever is here after we return
    _spec.loader.exec_module(_other)
