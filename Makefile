# paperdigest — the two commands of the Quickstart are `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 90
export PREFECT_LOGGING_LEVEL ?= WARNING

.PHONY: run test bench lint typecheck screenshot lock clean

$(BIN)/python:
	$(PY) -c 'import sys; sys.exit("paperdigest needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PY) -m venv $(VENV)

# Installs exactly the versions in requirements.lock (regenerate it with `make lock`).
$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	@mkdir -p "$(PREFECT_HOME)"
	$(BIN)/paperdigest run --config config/paperdigest.toml

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

screenshot: $(STAMP)
	$(BIN)/python -m tests.screenshot docs/email.png
	$(BIN)/python -m tests.screenshot --subscribe docs/subscribe.png

lock: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip freeze --all --exclude-editable | grep -v -i -e '^paperdigest' -e '^pip==' > requirements.lock

clean:
	rm -rf $(VENV) var
