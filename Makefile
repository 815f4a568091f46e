# falsr — every set-up step a fresh machine needs is here.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo lint clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -ra

lint: install
	$(BIN)/ruff check falsr_cli tests benchmarks

demo: install
	$(BIN)/falsr demo --out demo_out

clean:
	rm -rf $(VENV) build *.egg-info
