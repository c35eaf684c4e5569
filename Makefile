# Pluriel — the two commands: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install migrate demo lint format test-postgres test-browser messages clean

$(STAMP): requirements.txt requirements-dev.txt requirements-pabutools.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	# Test-only reference implementation of participatory-budget rules (never in the product).
	$(BIN)/pip install --quiet -r requirements-pabutools.txt
	touch $(STAMP)

install: $(STAMP)

messages: install
	$(BIN)/python manage.py compilemessages --ignore=.venv -v 0

migrate: messages
	$(BIN)/python manage.py migrate --noinput -v 0

demo: migrate
	$(BIN)/python manage.py demo

## Serve the app with demo data on http://127.0.0.1:8000/ (SQLite, Celery tasks in-process).
run: demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## Install and run the quick test suite (SQLite; no browser, no PostgreSQL-only tests).
test: messages
	$(BIN)/pytest -m "not browser and not postgres"

test-postgres: messages
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/pluriel} $(BIN)/pytest -m "not browser"

test-browser: messages
	$(BIN)/pytest -m browser tests/browser

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 media-private
