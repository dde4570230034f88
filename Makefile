# Two entry points for a fresh clone: `make run` and `make test`. Both build .venv from the lock,
# compiled to bytecode once: where PYTHONDONTWRITEBYTECODE is set (CI, this image) every command,
# worker and server would otherwise compile its libraries again each time it starts.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PORT ?= 3000
PACKAGES := crm_core features training models serving crm_intel

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup browser run test lint typecheck contracts pytest fuzz screenshots bench bench-quick lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q $(PACKAGES) >/dev/null
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

# The browser tests drive Debian's Chromium (Playwright uses it through executable_path; it
# downloads no browser). Outside CI a machine without apt only skips those tests.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	} || [ "$$CI" != "true" ]

run: setup
	$(BIN)/crm-intel quickstart
	$(BIN)/crm-intel serve --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

contracts: setup
	$(BIN)/lint-imports

# Two workers, one per core: much of the suite waits on servers, CLIs and databases, so the
# cores stay busy. Each worker takes whole modules (module fixtures are built once).
TEST_WORKERS ?= 2
pytest: setup browser
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

test: lint typecheck contracts pytest

# The schema-driven API run at full size: 1,000 generated requests per operation and role, and
# as many hostile cursors and stored JSON values.
FUZZ_REPORT ?= var/fuzz-report.jsonl
fuzz: setup
	mkdir -p $(dir $(FUZZ_REPORT)) && rm -f $(FUZZ_REPORT)
	CRM_FUZZ_EXAMPLES=1000 CRM_FUZZ_REPORT=$(FUZZ_REPORT) $(BIN)/pytest -q -p no:cacheprovider tests/crm_core/test_api_fuzz.py tests/crm_core/test_hostile_input.py $(FUZZ_ARGS)

# The README's screenshots: the browser tests, saving their screenshots into docs/.
screenshots: setup browser
	CRM_TEST_ARTIFACTS=docs/screenshots $(BIN)/pytest -q -p no:cacheprovider tests/e2e/test_browser.py

# Side-by-side benchmarks: the table on screen, the figures in benchmarks/results.json.
# Full sizes take a while (50M events, 1M contacts); bench-quick runs the same table small.
bench: setup
	$(BIN)/python -m benchmarks

bench-quick: setup
	$(BIN)/python -m benchmarks --quick

# Re-resolve the lock after changing dependencies in pyproject.toml.
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) var
