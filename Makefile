# Two commands for a fresh machine: `make run` and `make test` (see README).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-dev translations migrate seed train lint clean-db extract-messages

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

translations: install
	$(VENV)/bin/pybabel compile -d app/translations

migrate: install
	$(FLASK) migrate

seed: migrate
	$(FLASK) seed-demo

train: seed
	@test -f instance/classifier-model.npz || $(FLASK) intake train

run: translations seed train
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install-dev translations
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .

extract-messages: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs='.venv .* _* instance' -o app/translations/messages.pot .
	$(VENV)/bin/pybabel update -i app/translations/messages.pot -d app/translations

clean-db:
	rm -f instance/intake.db instance/intake.db-wal instance/intake.db-shm
