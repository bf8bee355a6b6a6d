"""Read a Flask app's url_map and print it as JSON: run by `strangler init --flask-app` with the APP's own
interpreter (its dependencies live there), so it imports only the app and the standard library, and must
keep working on Python >= 3.8. Usage: python -c "$(cat urlmap_reader.py)" MODULE:VAR

Output: {"rules": [{"rule", "methods", "endpoint", "blueprint", "package"}], "tables": [{"name", "module"}]}
where `package` is the module that defined the blueprint and `tables` the SQLAlchemy tables the app mapped
(only when the app itself imported SQLAlchemy), both used to guess which tables a blueprint owns.
"""
import gc
import importlib
import json
import sys


def load_app(ref):
    module_name, _, attribute = ref.partition(":")
    app = getattr(importlib.import_module(module_name), attribute or "app")
    if not hasattr(app, "url_map") and callable(app):  # an application factory
        app = app()
    if not hasattr(app, "url_map"):
        raise TypeError("%s is not a Flask app (it has no url_map)" % ref)
    return app


def rules(app):
    found = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        blueprint = endpoint.rsplit(".", 1)[0] if "." in endpoint else None
        bp = app.blueprints.get(blueprint) if blueprint else None
        found.append({"rule": rule.rule, "methods": sorted(rule.methods or ()), "endpoint": endpoint,
                      "blueprint": blueprint, "package": getattr(bp, "import_name", None)})
    return found


def tables():
    if "sqlalchemy.orm" not in sys.modules:
        return []
    registry = getattr(sys.modules["sqlalchemy.orm"], "registry", None)
    found: dict[str, str] = {}  # (a local annotation: never evaluated, fine on 3.8)
    for obj in gc.get_objects():
        if registry is None or not isinstance(obj, registry):
            continue
        for mapper in obj.mappers:
            table = getattr(mapper, "local_table", None)
            name = getattr(table, "name", None)
            if name:
                found.setdefault(name, mapper.class_.__module__)
    return [{"name": name, "module": module} for name, module in sorted(found.items())]


def main():
    try:
        app = load_app(sys.argv[1])
    except BaseException as exc:  # noqa: BLE001 - the app's own error, reported by the kit as one line
        lines = str(exc).strip().splitlines()
        sys.stderr.write("%s: %s\n" % (type(exc).__name__, lines[-1] if lines else ""))
        sys.exit(3)
    sys.stdout.write("\n" + json.dumps({"rules": rules(app), "tables": tables()}) + "\n")


main()
