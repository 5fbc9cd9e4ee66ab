# matinee: two commands on a fresh machine — `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: app run test check lint types bench bench-gateway bench-api bench-edge bench-qoe clean venv dev

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e .
	touch $@

$(DEV_STAMP): pyproject.toml $(STAMP)
	$(VENV)/bin/uv pip install -q --python $(PY) -e '.[dev]'
	touch $@

# The browser players (Shaka, hls.js, dash.js) from npm, pinned by the lockfile.
PLAYERS := web/players/node_modules/.package-lock.json
$(PLAYERS): web/players/package-lock.json
	cd web/players && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The viewer app and the admin console (TypeScript), built from npm with the lockfile into
# web/app/dist, which the web service serves.
APP_DEPS := web/app/node_modules/.package-lock.json
APP := web/app/dist/.built
$(APP_DEPS): web/app/package-lock.json
	cd web/app && npm ci --no-audit --no-fund --loglevel=error
	touch $@
$(APP): $(APP_DEPS) $(shell find web/app/src web/app/static -type f 2>/dev/null) web/app/build.mjs web/app/tsconfig.json
	cd web/app && npm run --silent typecheck && npm run --silent build
	touch $@

app: $(APP)
venv: $(STAMP)
dev: $(DEV_STAMP)

## Install what matinee needs into .venv/, create sample titles and serve them on embedded defaults.
run: $(STAMP) $(PLAYERS) $(APP)
	$(VENV)/bin/matinee demo

## Install everything the tests need (Chromium, npm players, test servers) and run the whole suite.
test: $(DEV_STAMP) $(PLAYERS) $(APP)
	bash scripts/test-deps.sh
	$(MAKE) lint types
	$(VENV)/bin/pytest tests

## The fast loop: lint, types, unit tests.
check: $(DEV_STAMP)
	$(MAKE) lint types
	$(VENV)/bin/pytest tests/unit -q

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

types: $(DEV_STAMP)
	$(VENV)/bin/mypy

bench: $(DEV_STAMP)
	$(VENV)/bin/python bench/ingest_ladder.py
	$(MAKE) bench-gateway
	$(MAKE) bench-api
	$(MAKE) bench-edge
	$(MAKE) bench-qoe

## A small JSON endpoint direct, through nginx and through the gateway (needs wrk and nginx).
bench-gateway: $(DEV_STAMP)
	bash scripts/test-deps.sh
	$(VENV)/bin/python bench/gateway_proxy.py

## Sign-in, title page and playback start through the gateway, on SQLite and PostgreSQL (needs wrk).
bench-api: $(DEV_STAMP)
	bash scripts/test-deps.sh
	$(VENV)/bin/python bench/services_api.py

## The CDN edge's hit path against nginx serving the same files from disk (needs wrk and nginx).
bench-edge: $(DEV_STAMP)
	bash scripts/test-deps.sh
	$(VENV)/bin/python bench/edge_vs_nginx.py

## Quality of experience in Chromium: TTFF, rebuffering, ABR under throttled links (docs/qoe-*.png).
bench-qoe: $(DEV_STAMP) $(PLAYERS) $(APP)
	bash scripts/test-deps.sh
	$(VENV)/bin/python bench/qoe.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
