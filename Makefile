# NBQ Keys Console — `make run` and `make test` set everything up themselves.
#
# Dependencies come from uv.lock (exact versions, hashes). uv itself is installed from PyPI into
# .tools/ (`pip install --target`: no venv to build), never by a curl installer. It uses the
# Python of .python-version (pyenv's 3.13.0) or any python3 >= 3.12, and never downloads one.
#   make run    — only what serving needs (no dev/bench groups), migrate, seed the demo, serve
#   make test   — adds the dev group (pytest, Playwright, ruff, mypy, ...) and the bench group (one
#                 test loads the bench's peer project), and runs the suite
#   make check  — ruff (lint + format), mypy and lint-imports (the layers in pyproject.toml), as .ci/run does
#   make bench  — adds the bench group (DRF + djangorestframework-api-key), runs bench/run.sh
#   make lock   — re-resolve uv.lock after editing pyproject.toml
#   make install — production: exactly the locked runtime dependencies in .venv
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION ?= 0.13.9
# pyenv's shim reads .python-version (3.13.0); elsewhere any python3 >= 3.12 will do.
PYTHON ?= $(shell command -v python3.13 || command -v python3)
# The interpreter itself, not pyenv's shim: uv would take a different path for a different Python
# and re-create .venv on every run.
PYTHON_EXE := $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# --locked: stop if uv.lock does not match pyproject.toml (--frozen would install the stale lock).
SYNC := $(UV) sync --locked --python $(PYTHON_EXE)
# make run, test, check and bench share .venv: each adds what it needs and removes nothing the
# others installed (--inexact), so switching between them installs or uninstalls nothing.
# `make install` (production) syncs exactly.
SHARED := --inexact
# The production profile (DEBUG=0) refuses to start without a SECRET_KEY; tests get a throwaway one
# (pytest also sets it itself: tests/environment.py).
TEST_SECRET_KEY := test-only-secret-key-not-for-production-6f1d0c9a2b7e4f3a8c5d
# `make test` runs the suite on two pytest-xdist workers (these machines have 2 cores; much of a
# browser or server test is waiting): PYTEST_WORKERS=0 runs it in one process. Each worker has its
# own test database (test_<name>_gw0, _gw1) and its own private redis-server.
PYTEST_WORKERS ?= 2

.PHONY: run test check bench lock venv install collectstatic clean

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python >= 3.12 is needed (found " + sys.version.split()[0] + "); pyenv: pyenv install 3.13.0")'
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(TOOLS) "uv==$(UV_VERSION)"

# The port `make run` serves on: PORT=8123 make run. Checked first, so a busy port is named at once.
PORT ?= 8000

run: $(UV)
	@$(PYTHON_EXE) keys_console/port_free.py '$(PORT)'
	$(SYNC) --no-dev $(SHARED)
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	@echo "Serving http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:$(PORT)

venv: $(UV)
	$(SYNC) $(SHARED)

# Production: the locked runtime dependencies only, exactly (README, "Running in production").
install: $(UV)
	$(SYNC) --no-dev

test: $(UV)
	$(SYNC) --group dev --group bench $(SHARED)
	SECRET_KEY="$${SECRET_KEY:-$(TEST_SECRET_KEY)}" $(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

check: $(UV)
	$(SYNC) --group dev $(SHARED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

bench: $(UV)
	$(SYNC) --group dev --group bench $(SHARED)
	bash bench/run.sh

lock: $(UV)
	$(UV) lock --python $(PYTHON_EXE)

# Production: STATIC_ROOT=/path/to/static make collectstatic (hashed, compressed files for whitenoise).
collectstatic:
	$(PY) manage.py collectstatic --noinput

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache test-artifacts staticfiles
