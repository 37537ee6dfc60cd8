# The two commands: `make up` runs the cloud, `make test` runs every gate and the test suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test setup system-packages lint test-databases clean

up: setup
	$(BIN)/overcast up

test: setup lint
	$(BIN)/pytest -n 2 --dist loadgroup
	$(MAKE) test-databases

# The identity and volume suites again on PostgreSQL and MariaDB (each skipped if its server is
# not running).
test-databases: setup
	@for kind in postgresql mariadb; do \
	  if $(BIN)/python -c "import sys; from tests.helpers import databases; sys.exit(not databases.reachable('$$kind'))"; then \
	    echo "identity and volume suites on $$kind"; \
	    OVERCAST_TEST_DATABASE=$$kind $(BIN)/pytest -n 2 --dist loadgroup -q tests/identity tests/volume || exit 1; \
	  else echo "skipping the $$kind run: no server on 127.0.0.1"; fi; \
	done

setup: system-packages $(STAMP)

# Debian packages the real drivers and the tests need; installed only when run as root.
system-packages:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $$(cat packages.txt); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check overcast tests bench
	$(BIN)/ruff format --check overcast tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy overcast/common overcast/object_store

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
