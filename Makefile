# The two commands: `make up` runs the cloud, `make test` runs every gate and the test suite.
# `make up ARGS="--port 5001 --data-dir /tmp/cloud"` hands options to `overcast up`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
# pytest's worker processes (`make test WORKERS=4`).
WORKERS ?= 2
# A prefix for the database runs' pytest (`make test` runs them under `nice`).
NICE ?=

.PHONY: up test setup system-packages lint test-databases conformance clean

# exec: overcast replaces the shell, so Ctrl-C stops it cleanly without a make error.
up: setup
	@exec $(BIN)/overcast up $(ARGS)

# Bytecode is compiled first: where PYTHONDONTWRITEBYTECODE is set (as on CI's machines) every
# process the tests start would otherwise compile Overcast's modules again.
#
# The database runs go beside the main run, under `nice`: the main run leaves about a third of the
# two cores idle while it waits on real guests (TCG), timeouts and polls, and they take that, the
# main run keeping the cores it wants; their output comes after the main run's. Names the runs
# share on the host (network namespaces) are each run's own.
test: setup lint
	$(BIN)/python -m compileall -q overcast tests
	@log=$$(mktemp); \
	$(MAKE) --no-print-directory test-databases NICE="nice -n 5" > $$log 2>&1 & databases=$$!; \
	echo "$(BIN)/pytest -n $(WORKERS) --dist loadgroup   (the database runs beside it: make test-databases)"; \
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup; main=$$?; \
	echo "the database runs:"; wait $$databases; status=$$?; cat $$log; rm -f $$log; \
	[ $$main = 0 ] && [ $$status = 0 ]

# The identity, volume and network suites again on PostgreSQL and MariaDB (each skipped if its server is
# not running). Tests that boot real guests prove the hypervisor and the dataplane, not the database
# engine: they run once, in the main run on SQLite.
test-databases: setup
	@for kind in postgresql mariadb; do \
	  if $(BIN)/python -c "import sys; from tests.helpers import databases; sys.exit(not databases.reachable('$$kind'))"; then \
	    echo "identity, volume and network suites on $$kind"; \
	    OVERCAST_TEST_DATABASE=$$kind $(NICE) $(BIN)/pytest -n 2 --dist loadgroup -q -m 'not guests' tests/identity tests/volume tests/network || exit 1; \
	  else echo "skipping the $$kind run: no server on 127.0.0.1"; fi; \
	done

# OpenStack's conformance suite (Tempest, pinned) in its own venv, against a fresh cloud; long,
# so not part of `make test`. Narrow it with CONFORMANCE_ARGS="--service compute --regex R".
TEMPEST := .conformance/venv
conformance: setup $(TEMPEST)/.installed
	$(BIN)/python -m conformance.run --tempest $(TEMPEST) $(CONFORMANCE_ARGS)

$(TEMPEST)/.installed:
	test -x $(TEMPEST)/bin/python || $(PY) -m venv $(TEMPEST)
	$(TEMPEST)/bin/pip install -q 'tempest==47.0.0' stestr
	touch $@

setup: system-packages $(STAMP)

# Debian packages (packages.txt): installed when make runs as root, named when it cannot.
system-packages:
	@if ! command -v dpkg >/dev/null; then \
	  echo "==> not a Debian system: make sure these are installed: $$(cat packages.txt | tr '\n' ' ')"; exit 0; fi; \
	missing=""; for p in $$(cat packages.txt); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "==> installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
	  echo "==> missing Debian packages:$$missing"; \
	  echo "    install them as root (sudo make setup, or sudo apt-get install$$missing);"; \
	  echo "    until then what needs them fails or its tests are skipped (pytest lists the skips)"; \
	fi

# The venv is made after the Debian packages (python3-venv) are in.
$(STAMP): pyproject.toml | system-packages
	@test -x $(BIN)/pip || { echo "==> creating $(VENV)"; $(PY) -m venv $(VENV) || { \
	  rm -rf $(VENV); echo "$(PY) -m venv failed: install python3-venv (as root: make setup)"; exit 1; }; }
	@echo "==> installing Overcast and its Python dependencies into $(VENV) (a minute or two the first time)"
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)
	@echo "==> ready: . $(BIN)/activate puts overcast and openstack on your PATH"

lint: setup
	$(BIN)/ruff check overcast tests bench conformance
	$(BIN)/ruff format --check overcast tests bench conformance
	$(BIN)/lint-imports
	$(BIN)/mypy overcast/common overcast/object_store overcast/network/drivers overcast/compute/guest

clean:
	rm -rf $(VENV) .conformance .pytest_cache .mypy_cache .ruff_cache
