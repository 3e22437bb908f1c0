# Every routine command of the course. Needs only Python 3.11 (or newer) and make (and, for make
# bench, a C compiler: it builds numpy on MKL once per numpy version).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# numpy on MKL, for the benchmarks only (see bench below)
MKL_VENV    := .venv-mkl
MKL_VERSION := 2025.3.0
PORT   ?= 8888
LESSON ?= 01-perceptron/perceptron.ipynb
# JupyterLab refuses to start as root unless told that it is on purpose.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help lab test lint lessons lessons-check grade-demo bench bench-mkl clean

help:
	@echo "make lab         set up .venv (first time) and open lesson 1 in JupyterLab (LESSON=... for another)"
	@echo "make test        set up .venv with the dev extra and run every test, ruff included"
	@echo "make lessons     regenerate lessons/ from solutions/"
	@echo "make grade-demo  grade the demo class of lesson 1 and print the grades"
	@echo "make bench       run the benchmarks; tables go to bench/results/ (ends with make bench-mkl)"
	@echo "make bench-mkl   time the training step with numpy built on MKL (built once in .venv-mkl)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

lab: $(VENV)/.installed
	$(BIN)/jupyter lab --ServerApp.root_dir=lessons --port $(PORT) $(ROOT_FLAG) lessons/$(LESSON)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

test: $(VENV)/.installed-dev lint
	$(BIN)/python -m pytest

lessons: $(VENV)/.installed
	$(BIN)/coursekit lessons

lessons-check: $(VENV)/.installed
	$(BIN)/coursekit lessons --check

DEMO := autograder/demo-out
grade-demo: $(VENV)/.installed
	rm -rf $(DEMO)
	$(BIN)/coursekit demo-class 01-perceptron $(DEMO)/submissions
	$(BIN)/coursekit grade 01-perceptron $(DEMO)/submissions --out $(DEMO)/graded --timeout 10

# Benchmarks print markdown tables and save them (and plots) in bench/results/. The training step
# is timed twice: with numpy's own wheel (OpenBLAS), then (bench-mkl) with numpy built on MKL, the
# BLAS PyTorch uses, so that the two frameworks are also compared on the same matrix products.
BENCHES := training gradcheck explorers lessons grading
bench: $(VENV)/.installed-dev
	@for b in $(BENCHES); do echo "== bench/bench_$$b.py"; $(BIN)/python bench/bench_$$b.py || exit 1; done
	$(MAKE) bench-mkl

bench-mkl: $(MKL_VENV)/.installed
	@echo "== bench/bench_training.py, numpy on MKL"
	$(MKL_VENV)/bin/python bench/bench_training.py --dtypes float64 --no-memory

# The numpy and PyTorch versions of .venv, rewritten only when they change: .venv-mkl is built
# with the same ones, and built again when a pin moves.
$(VENV)/.versions: $(VENV)/.installed-dev
	$(BIN)/python -c 'import numpy, torch; print(numpy.__version__, torch.__version__.split("+")[0])' > $@.new
	if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

# numpy built from source on MKL (Intel's mkl-devel wheel; needs a C compiler): about 10 minutes
# and 2.5 GB, once per numpy version. Built from the sources every time (no pip cache): a cached
# wheel would be linked to another MKL.
$(MKL_VENV)/.numpy: $(VENV)/.versions
	rm -rf $(MKL_VENV)
	$(PYTHON) -m venv $(MKL_VENV)
	$(MKL_VENV)/bin/python -m pip install --quiet mkl-devel==$(MKL_VERSION) meson-python meson ninja cython
	PATH="$(CURDIR)/$(MKL_VENV)/bin:$$PATH" PKG_CONFIG_PATH="$(CURDIR)/$(MKL_VENV)/lib/pkgconfig" \
	  $(MKL_VENV)/bin/python -m pip install --quiet --no-cache-dir --no-build-isolation --no-binary numpy \
	  "numpy==$$(cut -d' ' -f1 $<)" \
	  -Csetup-args=-Dblas=mkl -Csetup-args=-Dlapack=mkl -Csetup-args=-Dmkl-threading=gomp
	touch $@

# Then coursekit and the same PyTorch as in .venv, again when pyproject.toml changes.
$(MKL_VENV)/.installed: $(MKL_VENV)/.numpy pyproject.toml
	$(MKL_VENV)/bin/python -m pip install --quiet -e . "torch==$$(cut -d' ' -f2 $(VENV)/.versions)"
	$(MKL_VENV)/bin/python bench/check_mkl_numpy.py
	touch $@

clean:
	rm -rf $(DEMO) autograder/gradebook.db artifacts .pytest_cache
