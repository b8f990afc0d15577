# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SAMPLE_ISSUE := issues/2024-06-22-article-weekly-25.md
DEMO_OUT := build/demo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests use: a real browser, SpamAssassin and a PostgreSQL server.
SYSTEM_PACKAGES := chromium spamassassin postgresql

.PHONY: install system-deps demo test lint format golden bench vendor clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v spamassassin >/dev/null 2>&1 || missing="$$missing spamassassin"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

demo: install
	$(BIN)/python -m pipeline.cli.demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install system-deps lint
	$(BIN)/pytest -q

# Regenerate the golden files of the sample issue; review the diff before committing.
golden: install
	UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/issue/test_golden.py

# Refresh the vendored axe-core that the browser tests run (MPL-2.0, kept with its licence).
AXE_VERSION := 4.14.1
vendor:
	rm -rf build/vendor && mkdir -p build/vendor
	cd build/vendor && npm pack --silent axe-core@$(AXE_VERSION) && tar xzf axe-core-$(AXE_VERSION).tgz
	cp build/vendor/package/axe.min.js build/vendor/package/LICENSE tests/support/vendor/axe-core/
	echo $(AXE_VERSION) > tests/support/vendor/axe-core/VERSION

bench: install
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_send.py
	$(BIN)/python bench/bench_senders.py
	$(BIN)/python bench/bench_events.py

clean:
	rm -rf build .pytest_cache .ruff_cache
