# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SAMPLE_ISSUE := issues/2024-06-22-article-weekly-25.md
DEMO_OUT := build/demo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests use: a real browser, SpamAssassin, a PostgreSQL server, and
# what deploy/ is checked with (nginx run in front of serve, caddy and systemd-analyze).
SYSTEM_PACKAGES := chromium spamassassin postgresql nginx caddy systemd

WHEELHOUSE := build/wheelhouse
LOCK := requirements.lock

.PHONY: install system-deps demo test test-fast lint format golden bench vendor vendor-axe vendor-caniemail lock wheelhouse clean

# The versions the tests passed with (requirements.lock) constrain every install; `make lock`
# writes the file anew from the venv after an upgrade has passed the tests.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(LOCK) -e '.[dev]'
	touch $@

install: $(STAMP)

system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v spamassassin >/dev/null 2>&1 || missing="$$missing spamassassin"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v caddy >/dev/null 2>&1 || missing="$$missing caddy"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
		: "Debian starts nginx and caddy on port 80 of every address: the tests run their own."; \
		! command -v systemctl >/dev/null 2>&1 || \
			$(SUDO) systemctl disable --now nginx caddy >/dev/null 2>&1 || true; \
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

# The runtime dependencies as wheels, for the test that installs the package into a fresh
# venv offline (tests/test_package.py).
$(WHEELHOUSE)/.stamp: pyproject.toml $(LOCK) | $(STAMP)
	mkdir -p $(WHEELHOUSE)
	$(BIN)/pip download -q -d $(WHEELHOUSE) -c $(LOCK) . 'setuptools>=68'
	touch $@

wheelhouse: $(WHEELHOUSE)/.stamp

# Both backends, the browser and the processes, on every core; the 20 slowest tests listed.
test: install system-deps wheelhouse lint
	$(BIN)/pytest -q -n 3 --dist loadgroup --durations=20

# The edit loop: SQLite only, no browser, no subprocess, nothing marked slow, and the
# property tests trying a fifth of their examples (tests/support/properties.py).
test-fast: install
	NEWSLETTER_TEST_BACKENDS=sqlite PYTEST_NEWSLETTER_QUICK_PROPERTIES=1 $(BIN)/pytest -q -n 3 --dist loadgroup -m "not browser and not slow and not subprocess and not spam"

lock: install
	$(BIN)/pip freeze --exclude-editable > $(LOCK)

# Regenerate the golden files of the sample issue; review the diff before committing.
golden: install
	UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/issue/test_golden.py

# Refresh every vendored package: `make vendor` (or one of the two targets below).
vendor: vendor-axe vendor-caniemail

# Refresh the vendored axe-core that the browser tests run (MPL-2.0, kept with its licence).
AXE_VERSION := 4.14.1
vendor-axe:
	rm -rf build/vendor && mkdir -p build/vendor
	cd build/vendor && npm pack --silent axe-core@$(AXE_VERSION) && tar xzf axe-core-$(AXE_VERSION).tgz
	cp build/vendor/package/axe.min.js build/vendor/package/LICENSE tests/support/vendor/axe-core/
	echo $(AXE_VERSION) > tests/support/vendor/axe-core/VERSION

# Refresh caniemail's support data for the email-client lint (MIT, kept with its licence):
# the loader's shape check runs on the new file, which keeps only the features and clients
# that `pipeline/issue/compat.py` reads. Review the diff of pipeline/issue/caniemail/.
CANIEMAIL_VERSION := 2.0.2
CANIEMAIL_DIR := pipeline/issue/caniemail
vendor-caniemail: install
	rm -rf build/vendor-caniemail && mkdir -p build/vendor-caniemail
	cd build/vendor-caniemail && npm pack --silent caniemail@$(CANIEMAIL_VERSION) && tar xzf caniemail-$(CANIEMAIL_VERSION).tgz
	$(BIN)/python -m pipeline.issue.compat_data build/vendor-caniemail/package/data/caniemail.json $(CANIEMAIL_DIR)
	cp build/vendor-caniemail/package/LICENSE $(CANIEMAIL_DIR)/LICENSE
	echo $(CANIEMAIL_VERSION) > $(CANIEMAIL_DIR)/VERSION

bench: install
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_send.py
	$(BIN)/python bench/bench_senders.py
	$(BIN)/python bench/bench_events.py
	$(BIN)/python bench/bench_copy.py

clean:
	rm -rf build .pytest_cache .ruff_cache
