# idmimport: `make run` serves the API and a worker; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
HOST ?= 127.0.0.1
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench bench-smoke clean install

$(STAMP): requirements.txt requirements-dev.txt requirements-bench.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -r requirements-bench.txt
	touch $(STAMP)

install: $(STAMP)

## Serve the API and a django-q2 worker on the embedded default (SQLite, ORM broker).
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_managed_config
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

## The whole test suite (SQLite + ORM broker unless DATABASE_URL / REDIS_URL are set).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## The benchmark of bench/README.md: baselines, peer and product, one table (~15 min).
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## The same harness at 10,000 rows (about a minute); also part of `make test`.
bench-smoke: $(STAMP)
	$(BIN)/python -m bench.run --smoke $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data
