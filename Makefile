# The two commands: `make run` serves the API, `make test` runs the suite with its coverage gate.
# Both create backend/.venv and install the locked dependencies (backend/uv.lock) first.
PYTHON ?= python3
UV_VERSION := 0.13.8
VENV := backend/.venv

.PHONY: run test test-quick install lint audit bench eval admin worker embed

$(VENV)/bin/uv:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The project's own modules are compiled too, as the dependencies are: every server, worker and
# pool process the tests start imports the app, and where PYTHONDONTWRITEBYTECODE is set (as in
# some CI images) each would compile it again (0.8 s of CPU a process; the suite 348 -> 309 s).
install: $(VENV)/bin/uv
	cd backend && .venv/bin/uv sync --locked --inexact --quiet --compile-bytecode
	cd backend && .venv/bin/python -m compileall -q app testkit tests benchmarks >/dev/null

run: install
	cd backend && .venv/bin/python -m app.serve

test: install
	cd backend && .venv/bin/pytest -n 2 --dist worksteal --cov=app --cov-report=term-missing

# The inner loop while changing code: every test but those marked slow (real server processes,
# browsers, the embedding model, property-based runs over every route), without the coverage
# gate. `make test` runs them all, as CI does.
test-quick: install
	cd backend && .venv/bin/pytest -n 2 --dist worksteal -m "not slow" -q

lint: install
	cd backend && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

# Known vulnerabilities in every locked package (runtime, dev group and any extra), asked of OSV
# (OSV_URL may name another OSV-compatible service). It fails on a finding, and also when a
# package could not be checked (--strict): an audit that could not ask is no pass. The lock is
# exported to a file first, so that a failed export cannot pass as an empty, clean list.
OSV_URL ?= https://api.osv.dev/v1/query

audit: install
	cd backend && locked=$$(mktemp) && trap 'rm -f "$$locked"' EXIT && \
	  .venv/bin/uv export --locked --all-groups --all-extras --no-emit-project --quiet \
	    --format requirements.txt --output-file "$$locked" && \
	  .venv/bin/pip-audit --requirement "$$locked" --disable-pip --strict --aliases on \
	    --vulnerability-service osv --osv-url "$(OSV_URL)" --progress-spinner off || \
	  { echo "make audit: a known vulnerability (listed above), or $(OSV_URL) could not be asked" >&2; exit 1; }

bench: install
	cd backend && .venv/bin/python -m benchmarks.repositories
	cd backend && .venv/bin/python -m benchmarks.http_wrk
	cd backend && .venv/bin/python -m benchmarks.http_load
	cd backend && .venv/bin/python -m benchmarks.talk
	cd backend && .venv/bin/python -m benchmarks.ingest
	cd backend && .venv/bin/python -m benchmarks.vectors
	cd backend && .venv/bin/python -m benchmarks.search_scale
	cd backend && .venv/bin/python -m benchmarks.embedding
	cd backend && .venv/bin/python -m benchmarks.loop_stall
	cd backend && .venv/bin/python -m benchmarks.pgbouncer
	cd backend && .venv/bin/python -m benchmarks.collections

# The labelled set (backend/testkit: talks/, questions.json) through the service's pipeline and defaults: the
# table of hit@5, citations and declines per split; the test split is the one to report.
eval: install
	cd backend && .venv/bin/python -m tests.retrieval.report $(ARGS)

admin: install
	@test -n "$(EMAIL)" || (echo "usage: make admin EMAIL=someone@example.com" && exit 2)
	cd backend && .venv/bin/python -m app.cli grant-admin "$(EMAIL)"

worker: install
	cd backend && .venv/bin/python -m app.worker

embed: install
	cd backend && .venv/bin/python -m app.cli embed-missing
