# Mythos: two commands on a fresh machine — `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test setup lock lint clean tintin

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/mythos serve

# TinTin++ drives one test as a real MUD client; install it when missing (Debian).
tintin:
	@command -v tt++ >/dev/null 2>&1 || test -x /usr/games/tt++ || \
	  { command -v apt-get >/dev/null 2>&1 && (apt-get update -qq && apt-get install -y -qq tintin++ >/dev/null) || \
	    echo "tintin++ could not be installed; its test will be skipped"; }

test: setup tintin
	PYTHONASYNCIODEBUG=1 $(VENV)/bin/pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests

# Re-pin the dependencies after editing pyproject.toml.
lock:
	$(PY) -m pip install -q uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock --no-header

clean:
	rm -rf $(VENV) .pytest_cache
