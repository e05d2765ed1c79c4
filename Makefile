# One obvious way to run things: make install | run | test | bench | lint
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp

.PHONY: install run test bench lint demo clean

install: $(STAMP)

# Re-installs only when the project's metadata changed, so a second `make install` is instant.
$(STAMP): pyproject.toml setup.py alerts/rules/_scan.c alerts/rules/_walk.c alerts/rules/_table.h alerts/rules/_decide.c alerts/rules/_keys.c alerts/rules/_learn.c alerts/rules/_places.c alerts/rules/_explain.c alerts/rules/_entries.c alerts/rules/_merged.c alerts/rules/_explain.h alerts/rules/_firsts.h alerts/rules/_snippets.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,postgres]'
	@touch $(STAMP)

run: install
	@mkdir -p var
	@echo "newswatch: the web interface and API will be at http://127.0.0.1:8470/ (web.listen in config/settings.yaml)"
	$(BIN)/newswatch --config config run

demo: install
	$(BIN)/newswatch demo

test: install
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache alerts/rules/*.so
