# Mythos: two commands on a fresh machine — `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test setup lock lint audit clean tintin chromium bench bench-evennia

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

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
chromium:
	@test -x /usr/bin/chromium || \
	  { command -v apt-get >/dev/null 2>&1 && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	    echo "chromium could not be installed; the browser tests will be skipped"; }

test: setup tintin chromium
	PYTHONASYNCIODEBUG=1 $(VENV)/bin/pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests bench

# Known vulnerabilities in the pinned dependencies (pip-audit against PyPI's advisory
# database; .ci/run runs it). Without network it says SKIPPED instead of failing.
audit: setup
	@if $(PY) -c "import re, urllib.request as u; v = re.search(r'^aiohttp==(\S+)', open('requirements.lock').read(), re.M)[1]; u.urlopen(f'https://pypi.org/pypi/aiohttp/{v}/json', timeout=10)" >/dev/null 2>&1; then \
	  $(VENV)/bin/pip-audit -r requirements.lock --no-deps --disable-pip --strict --progress-spinner off; \
	else \
	  echo "audit: SKIPPED - PyPI's vulnerability API (pypi.org/pypi/NAME/VERSION/json) does not answer for the pinned versions here (no network, or a mirror); nothing was checked"; \
	fi

# Re-pin the dependencies after editing pyproject.toml.
lock:
	$(PY) -m pip install -q uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra bench --python-version 3.11 -o requirements.lock --no-header

# The load benchmark (docs/PERFORMANCE.md): Mythos alone, then side by side with Evennia
# (installed from PyPI into bench/.evennia-venv, never a dependency of the project).
# Pass options with BENCH_ARGS, e.g. make bench BENCH_ARGS="--steps 100,500 --hold 30".
BENCH_ARGS ?=
EVENNIA_STEPS ?= 50,100,200,500,1000
bench: setup
	$(PY) -m bench $(BENCH_ARGS)

bench-evennia: setup
	$(PY) -m bench --target both --scenarios crowded,storm,ramp --steps $(EVENNIA_STEPS) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
