# scrapejobs: `make run` serves on http://localhost:3000, `make test` runs the whole suite,
# `make demo` runs the service against a local site that misbehaves on purpose.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
SCRAPEJOBS_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
export SCRAPEJOBS_TEST_POSTGRES_URL

.PHONY: install install-test run demo test fuzz lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

# Options come from SCRAPEJOBS_* variables (SCRAPEJOBS_PORT=3001 make run) or ARGS
# (make run ARGS="--workers 4"); the port defaults to 3000.
run: $(STAMP)
	$(BIN)/scrapejobs serve $(ARGS)

# The demo (docs/demo.md): the service against a local site that misbehaves on purpose,
# on http://127.0.0.1:3000 (ARGS="--port 3001"), its database in a temporary directory.
demo: $(STAMP)
	$(BIN)/scrapejobs demo $(ARGS)

# The dashboard tests drive Debian's chromium; install it when missing and apt-get is there.
test: $(TEST_STAMP)
	command -v chromium >/dev/null || ! command -v apt-get >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/pytest

# The OpenAPI document against a live server (docs/api.md#the-openapi-document): schemathesis,
# every operation, without and with an API key, about 4 minutes. Not part of `make test`.
# Options in FUZZ_ARGS, e.g. `make fuzz FUZZ_ARGS="--max-time 30 --round open"`.
FUZZ_ARGS ?=

fuzz: $(TEST_STAMP)
	$(BIN)/python -m tests.fuzz.run_schemathesis $(FUZZ_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

# The crawl benchmark (bench/README.md): nginx from Debian, Scrapy from the `bench` extra.
# Options go in BENCH_ARGS, e.g. `make bench BENCH_ARGS="--rounds 5 --write-docs"`.
BENCH_ARGS ?=

.PHONY: bench
bench: $(BIN)/python
	test -x /usr/sbin/nginx || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; }
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/crawl_vs_scrapy.py $(BENCH_ARGS)

# The politeness benchmark (bench/README.md): a worker fleet and Scrapy against a rate-limited site.
.PHONY: bench-politeness
bench-politeness: $(BIN)/python
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/politeness.py $(BENCH_ARGS)

# The analytics scale benchmark (bench/README.md): 1,000,000 jobs in SQLite and PostgreSQL.
.PHONY: bench-stats
bench-stats: $(STAMP)
	$(BIN)/python bench/stats_scale.py $(BENCH_ARGS)

# The queue benchmark (bench/README.md): scrapejobs against pgqueuer and procrastinate on one PostgreSQL.
.PHONY: bench-queue
bench-queue: $(BIN)/python
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/queue_throughput.py $(BENCH_ARGS)
