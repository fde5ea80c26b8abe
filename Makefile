# Two commands do all set-up on a fresh machine:
#   make book  -- create .venv, install, execute and render the book to _build/html
#   make test  -- create .venv if missing, lint, unit tests and every chapter (nbmake), build -W
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU wheel of torch; override e.g. `make TORCH=torch` for a CUDA build on a GPU machine.
TORCH ?= torch==2.13.0
# an extra package index for torch, e.g. https://download.pytorch.org/whl/cpu for its CPU build
TORCH_INDEX ?=
NB_DIR := nbexec
JCACHE := _build/.jupyter_cache
# every executable page of the book (MyST notebooks carry a kernelspec); the chapters run first
# (in parallel), then the pages that read their results (the scorecard) or their timings
NOTEBOOKS := $(shell grep -l '^kernelspec:' book/*.md)
CHAPTER_NBS := $(filter book/ch%,$(NOTEBOOKS))
AFTER_NBS := $(filter-out book/ch%,$(NOTEBOOKS))
# test workers (pytest-xdist); each single-threaded, so two workers fill a 2-core machine
JOBS ?= 2
PAR := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 BOOK_WORKERS=1
STEP := .ci/step
export BOOK_PROGRESS ?= 0
export PYTHONUNBUFFERED := 1

.PHONY: all venv test lint unit convert notebooks-exec after-chapters checks book html notebooks bench clean help

all: help

help:
	@echo "make book   - create .venv, install, execute and render the book to _build/html"
	@echo "make test   - lint, unit tests and every chapter (nbmake) in one session, build the HTML -W"
	@echo "make unit   - unit tests only;  make notebooks-exec - execute the book's pages only"
	@echo "make notebooks - regenerate the Colab copies book/*.ipynb (after make test: with its numbers)"
	@echo "make bench  - run the benchmarks in bench/"

venv: $(VENV)/.installed

# one pip run for torch and the rest; the modules are then byte-compiled on all cores (pip does it
# on one); compileall's failures are ignored as pip ignores them (files written for newer Pythons)
$(VENV)/.installed: pyproject.toml
	@$(STEP) "create venv and install" bash -c '\
	  set -e; \
	  [ -x $(PY) ] || $(PYTHON) -m venv $(VENV); \
	  $(PY) -m pip install -q --disable-pip-version-check --no-compile \
	    $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "$(TORCH)" -e ".[book,test]"; \
	  $(PY) -m compileall -q -j 0 $$($(PY) -c "import sysconfig; print(sysconfig.get_paths()[\"purelib\"])") \
	    >/dev/null 2>&1 || true; \
	  $(PY) -m ipykernel install --prefix $(VENV) --name python3 >/dev/null'
	@touch $@

lint: venv
	@$(STEP) "lint (ruff check)" $(VENV)/bin/ruff check .

unit: venv
	@$(STEP) "unit tests (pytest tests/, $(JOBS) workers)" env $(PAR) $(PY) -m pytest tests -q \
	  -n $(JOBS) --dist worksteal --durations=15

NBMAKE := --nbmake --overwrite --nbmake-timeout=900 -p no:cacheprovider

convert: venv
	@rm -rf $(NB_DIR) && mkdir -p $(NB_DIR)
	@$(STEP) "convert chapters (jupytext)" bash -c 'set -e; for f in $(NOTEBOOKS); do \
	  $(VENV)/bin/jupytext --quiet --to ipynb -o $(NB_DIR)/$$(basename $$f .md).ipynb $$f; done'

# the pages that read the chapters' results, then every executed page into the jupyter cache
after-chapters:
	@$(STEP) "execute the pages that read the chapters" $(PY) -m pytest $(NBMAKE) -q --durations=0 \
	  $(patsubst book/%.md,$(NB_DIR)/%.ipynb,$(AFTER_NBS))
	@$(STEP) "store outputs in the jupyter cache" $(PY) .ci/cache_notebooks.py $(JCACHE) $(NB_DIR) $(NOTEBOOKS)

notebooks-exec: convert
	@$(STEP) "execute chapters (pytest --nbmake, $(JOBS) workers)" env $(PAR) $(PY) -m pytest \
	  $(NBMAKE) -q --durations=0 -n $(JOBS) $(patsubst book/%.md,$(NB_DIR)/%.ipynb,$(CHAPTER_NBS))
	@$(MAKE) --no-print-directory after-chapters

# unit tests and chapters in one session: the two workers share out all of it (longest first,
# see tests/conftest.py), so neither waits for the other's last item
checks: convert
	@$(STEP) "unit tests and chapters (pytest, $(JOBS) workers)" env $(PAR) $(PY) -m pytest \
	  tests $(patsubst book/%.md,$(NB_DIR)/%.ipynb,$(CHAPTER_NBS)) $(NBMAKE) -q -n $(JOBS) \
	  --dist worksteal --durations=25
	@$(MAKE) --no-print-directory after-chapters

html: venv
	@$(STEP) "build HTML (jb build -W)" $(VENV)/bin/jb build . -W --keep-going

test: lint checks html
	@test -f _build/html/index.html
	@echo "make test: all steps passed"

book: venv html
	@test -f _build/html/index.html && echo "the book is at _build/html/index.html"

# plain notebooks (scalinglaws/colab.py): no MyST left, glued values from the executed pages in
# $(NB_DIR)/ when there are any (run after `make test` or `make notebooks-exec`)
notebooks: venv
	@$(PY) -m scalinglaws.colab $(NOTEBOOKS)

bench: venv
	@for b in bench/*.py; do $(STEP) "$$b" $(PY) $$b; done

clean:
	rm -rf _build .cache
