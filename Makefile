# The two commands of the README: `make demo` and `make test`.
# Each sets up everything it needs (a .venv, the package, the Rust tracer)
# on a fresh machine, then runs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TRACER_SOURCES := $(shell find tracer/src tracer/Cargo.toml -type f 2>/dev/null)

.PHONY: install test test-python test-rust demo bench bench-tracing lint clean postgresql chromium debuggers screenshots

install: $(STAMP)

$(STAMP): pyproject.toml setup.py bin/roar $(TRACER_SOURCES)
	@command -v cargo >/dev/null || { echo "cargo is required to build the tracer (install Rust with rustup)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,server,s3]' --config-settings editable_mode=compat
	@test -x roar/roar-tracer || { echo "the tracer did not build"; exit 1; }
	@cmp -s roar/roar-tracer $(VENV)/bin/roar || { echo "$(VENV)/bin/roar is not the Rust front end"; exit 1; }
	$(PY) -m compileall -q roar  # as a regular install does: start-up without recompiling
	touch $@

test: install postgresql chromium debuggers test-rust test-python

# The GLaaS tests start a real PostgreSQL of their own (initdb + pg_ctl).
postgresql:
	@command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
	  || dpkg -s postgresql >/dev/null 2>&1 \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }

# The web UI's browser tests drive Debian's Chromium with Playwright
# (Playwright's own browser downloads are not used).
chromium:
	@test -x /usr/bin/chromium || dpkg -s chromium >/dev/null 2>&1 \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# The tracer's field tests run strace and gdb inside a job.
debuggers:
	@{ command -v strace && command -v gdb; } >/dev/null \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q strace gdb; }

test-python:
	$(PY) -m pytest -q -p no:cacheprovider

# The README's screenshots (docs/img/), saved by the browser tests.
screenshots: install postgresql chromium
	ROAR_SCREENSHOTS=1 $(PY) -m pytest -q -p no:cacheprovider tests/server/test_web_pages.py

# The fidelity suite runs under both mechanisms: seccomp user notification
# (the default) and the ptrace fallback.
test-rust:
	cd tracer && cargo test --release -q
	cd tracer && ROAR_TRACER_MECHANISM=ptrace cargo test --release -q --test capture --test lifecycle

demo: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/demo.sh

bench: install
	$(PY) -m pytest -q benchmarks --benchmark-columns=min,median,max,rounds

# Tracing overhead against strace, roar-cli and reprozip (their venvs:
# benchmarks/tracing/setup_peers.sh); prints one markdown table.
bench-tracing: install
	$(PY) -m benchmarks.tracing.compare $(BENCH_ARGS)

# Style, the layer contract of docs/architecture.md (import-linter), strict
# types on the core (mypy, files listed in pyproject.toml), and clippy.
lint: install
	$(VENV)/bin/ruff check roar tests benchmarks
	$(VENV)/bin/ruff format --check roar tests benchmarks
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy
	cd tracer && cargo clippy --release --all-targets -- -D warnings

clean:
	rm -rf $(VENV) build dist *.egg-info tracer/target roar/roar-tracer
