# Two commands do all set-up on a fresh machine:
#   make book  -- create .venv, install, execute and render the book to _build/html
#   make test  -- create .venv if missing, unit tests, execute every chapter under nbmake, build -W
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU wheel of torch; override e.g. `make TORCH=torch` for a CUDA build on a GPU machine.
TORCH ?= torch==2.13.0
NB_DIR := nbexec
JCACHE := _build/.jupyter_cache
# every executable page of the book (MyST notebooks carry a kernelspec)
NOTEBOOKS := $(shell grep -l '^kernelspec:' book/*.md)
STEP := .ci/step
export BOOK_PROGRESS ?= 0
export PYTHONUNBUFFERED := 1

.PHONY: all venv test unit notebooks-exec book html notebooks bench clean help

all: help

help:
	@echo "make book   - create .venv, install, execute and render the book to _build/html"
	@echo "make test   - unit tests, execute every chapter under nbmake, build the HTML with -W"
	@echo "make notebooks - regenerate the Colab copies book/*.ipynb from book/*.md"
	@echo "make bench  - run the benchmarks in bench/"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(STEP) "create venv and install" bash -c '\
	  set -e; \
	  [ -x $(PY) ] || $(PYTHON) -m venv $(VENV); \
	  $(PY) -m pip install -q --disable-pip-version-check "$(TORCH)"; \
	  $(PY) -m pip install -q --disable-pip-version-check -e ".[book,test]"; \
	  $(PY) -m ipykernel install --prefix $(VENV) --name python3 >/dev/null'
	@touch $@

unit: venv
	@$(STEP) "unit tests (pytest tests/)" $(PY) -m pytest tests -q

notebooks-exec: venv
	@rm -rf $(NB_DIR) && mkdir -p $(NB_DIR)
	@$(STEP) "convert chapters (jupytext)" bash -c 'set -e; for f in $(NOTEBOOKS); do \
	  $(VENV)/bin/jupytext --quiet --to ipynb -o $(NB_DIR)/$$(basename $$f .md).ipynb $$f; done'
	@$(STEP) "execute chapters (pytest --nbmake)" $(PY) -m pytest --nbmake --overwrite \
	  --nbmake-timeout=900 -q -p no:cacheprovider --durations=0 $(NB_DIR)
	@$(STEP) "store outputs in the jupyter cache" $(PY) .ci/cache_notebooks.py $(JCACHE) $(NB_DIR) $(NOTEBOOKS)

html: venv
	@$(STEP) "build HTML (jb build -W)" $(VENV)/bin/jb build . -W --keep-going

test: unit notebooks-exec html
	@test -f _build/html/index.html
	@echo "make test: all steps passed"

book: venv html
	@test -f _build/html/index.html && echo "the book is at _build/html/index.html"

notebooks: venv
	@for f in $(filter book/ch%,$(NOTEBOOKS)); do \
	  $(VENV)/bin/jupytext --quiet --to ipynb --update-metadata '{"jupytext": null}' \
	    -o $${f%.md}.ipynb $$f && echo "wrote $${f%.md}.ipynb"; done

bench: venv
	@for b in bench/*.py; do $(STEP) "$$b" $(PY) $$b; done

clean:
	rm -rf _build .cache
