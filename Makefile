# The two commands of the README: `make demo` (the kit's main job) and `make test` (the whole suite).
# Both create the virtualenv in .venv with a Python >= 3.12 found by scripts/find-python.
VENV  := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint venv clean
venv: $(STAMP)

$(STAMP): pyproject.toml scripts/find-python
	@py=$$(scripts/find-python) || exit 1; \
	  if ! $(VENV)/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	    echo "creating $(VENV) with $$py"; rm -rf $(VENV); $$py -m venv $(VENV) || exit 1; fi
	@echo "installing pip, the kit and its dev tools into $(VENV) (about a minute on a fresh machine) ..."
	@$(VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(VENV)/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@$(VENV)/bin/python -c 'import importlib.metadata as m; print("installed strangler-kit", m.version("strangler-kit"))' \
	  2>/dev/null || echo "installed the kit"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/strangler demo

# The lint and type gate (docs/contributing.md): ruff's rules and mypy, strict on the kit's core (pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint  # the gate first: a lint or type error fails the run before any test starts
	@scripts/system-deps
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf var .pytest_cache
