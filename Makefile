# The README's two commands: `make book` and `make test`. Both create .venv and install the pinned
# environment first, so they work on a fresh machine that has only Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.icegrad-installed
export ICEGRAD_CACHE_DIR ?= $(CURDIR)/.cache/icegrad
export TF_CPP_MIN_LOG_LEVEL ?= 2
export MPLBACKEND ?= Agg

.PHONY: install book networks test test-fast lint bench clean

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 --display-name "Python 3 (icegrad)" > /dev/null
	touch $@

install: $(STAMP)

book: install
	$(BIN)/icegrad book

# The book's trained networks, shipped so that chapters at their defaults never train (a stale-networks
# test names this target). Trains what the cache lacks (measured 2026-12-07 on 2 cores: the emulated
# ensemble, pre-trained on realisation 1 then trained, 27 min beside other work; then 12.5 min for the
# other five, one after the other: most of it the NSIDC ensemble, ~1 min each coarse network, and the
# integrated gradients that choose ch. 8's inputs).
networks: install
	$(BIN)/icegrad train --release data/networks

test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15

test-fast: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow"

lint: install
	$(BIN)/ruff check src tests benchmarks book data/scripts

bench: install
	$(BIN)/python benchmarks/attribution.py $(if $(wildcard /tmp/xplique_pkg),--xplique-path /tmp/xplique_pkg,)
	$(BIN)/python benchmarks/training.py

clean:
	rm -rf _build .cache .pytest_cache
