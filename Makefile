# The README's two commands; either may come first:
#   make book   set up the Python environment, then build the site from the notebooks'
#               stored outputs (nothing is executed: a few minutes) and say where it is
#   make test   execute and check everything: utils, the book's structure, every chapter
#               (nbval) and every way a reader runs one (tests/test_reader_paths.py)
# and, for one chapter: make chapter NB=chapters/NN_name.ipynb (execute it in the smoke
# profile and store its outputs in the notebook).

.PHONY: setup book build site-check test chapter imdb clean

# --- the Python environment ------------------------------------------------------------
# The active virtual environment; else the project's own .venv (made from $(PYTHON) on
# first use). Where neither exists, a Python that already has everything the book needs,
# this checkout's utils included (scripts/check_environment.py), is used as it is.
PYTHON ?= python3
ifdef VIRTUAL_ENV
ENV_DIR := $(VIRTUAL_ENV)
else ifneq ($(wildcard .venv/bin/python),)
ENV_DIR := .venv
else ifeq ($(shell $(PYTHON) scripts/check_environment.py --quiet 2>/dev/null && echo ok),ok)
ENV_DIR :=
else
ENV_DIR := .venv
endif
PY ?= $(if $(ENV_DIR),$(ENV_DIR)/bin/python,$(shell $(PYTHON) -c 'import sys; print(sys.executable)'))
# torch first, the CPU-only build where PyTorch's CPU index has it (else the default
# index decides): a plain `pip install torch` on Linux pulls a CUDA build of several GB
TORCH ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
PIP = $(PY) -m pip install -q --disable-pip-version-check
export REACHABLE = import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)

setup:
	@if [ ! -x "$(PY)" ]; then \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || { \
	    echo "The book needs Python 3.10 or newer, and $(PYTHON) is older (or missing):" \
	      "run make $(or $(MAKECMDGOALS),book) PYTHON=python3.12 (any 3.10+)." >&2; \
	    exit 1; }; \
	  echo "Making the project's own Python environment in $(ENV_DIR)/ (from $(PYTHON))"; \
	  $(PYTHON) -m venv $(ENV_DIR) || { \
	    $(if $(filter .venv,$(ENV_DIR)),rm -rf .venv;) \
	    echo "$(PYTHON) cannot make a virtual environment: on Debian or Ubuntu install" \
	      "its venv module (sudo apt install python3-venv), then run make again." >&2; \
	    exit 1; }; \
	fi
	@$(PY) scripts/check_environment.py --quiet || { \
	  echo "Installing the book's requirements into $(or $(ENV_DIR),$(PY)) (torch first," \
	    "CPU-only where that build exists): a few minutes the first time"; \
	  $(PY) -c 'import torch' 2>/dev/null || { \
	    if $(PY) -c "$$REACHABLE" $(TORCH_INDEX)/torch/ 2>/dev/null; \
	    then $(PIP) --extra-index-url $(TORCH_INDEX) "$(TORCH)"; \
	    else $(PIP) "$(TORCH)"; fi || $(PIP) torch; }; \
	  $(PIP) -r requirements.txt && $(PY) scripts/check_environment.py; }
	@echo "Python: $(PY)"

# --- the site ----------------------------------------------------------------------------
# -W: a warning (a broken reference, a missing figure) fails the build; JB 1.x exits 0
# otherwise.
BUILD_FLAGS = -W --keep-going
BOOK_DIR ?= .
JUPYTER_BOOK = $(PY) -c 'import sys; from jupyter_book.cli.main import main; \
  sys.argv[0] = "jupyter-book"; sys.exit(main())'

book: setup
	@$(MAKE) --no-print-directory build

# From the notebooks' stored outputs, or from the executions the last `make test` left in
# _build/.jupyter_cache for the same code (tests/notebook_cache.py): nothing is executed.
build:
	@$(PY) -m tests.notebook_cache $(BOOK_DIR)
	$(JUPYTER_BOOK) build $(BUILD_FLAGS) $(BOOK_DIR)
	@echo "The site is in $(abspath $(BOOK_DIR))/_build/html: open" \
	  "file://$(abspath $(BOOK_DIR))/_build/html/index.html in a browser."

# What a reader sees: the built pages carry no build debris (after `make build`).
site-check:
	$(PY) -m pytest tests/site -q -o addopts="-p no:cacheprovider"

# --- the tests ---------------------------------------------------------------------------
# IMDb: IMDB_PATH, else the archive at data/aclImdb_v1.tar.gz (`make imdb` puts it there)
# or at ../shared/data/aclImdb_v1.tar.gz.
IMDB_URL = https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz
IMDB_PATH ?= $(firstword $(wildcard $(CURDIR)/data/aclImdb_v1.tar.gz \
  $(abspath $(CURDIR)/../shared/data/aclImdb_v1.tar.gz)))
# What the tests run under, whatever the machine has set: offline (the Hub stand-ins and
# the packaged model are what is tested, online or not), the smoke profile (a GPU would
# otherwise pick `full`), no book variables, figures without a display. tests/conftest.py
# sets the same for a bare `pytest`.
RUN_ENV = env -u BOOK_MODEL -u BOOK_PRECISION -u BOOK_PROFILE_OVERRIDES \
  BOOK_PROFILE=smoke HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
  MPLBACKEND=Agg PYTHONUNBUFFERED=1 IMDB_PATH="$(IMDB_PATH)"
NO_IMDB = echo "The tests need the IMDb archive aclImdb_v1.tar.gz (84 MB): run \`make imdb\`" \
  "to download it into data/, or set IMDB_PATH=/path/to/aclImdb_v1.tar.gz." >&2; exit 1

# the 25 slowest tests are listed at the end: make test has a budget of 20 minutes
PYTEST_ARGS ?= --durations=25

test: setup
	@test -f "$(IMDB_PATH)" || { $(NO_IMDB); }
	$(RUN_ENV) $(PY) -m pytest $(PYTEST_ARGS)

# Execute one chapter as the tests do, and store its outputs (see CONTRIBUTING.md).
chapter: setup
	@test -n "$(NB)" || { echo "Name the chapter: make chapter NB=chapters/NN_name.ipynb" >&2; \
	  exit 1; }
	@test -f "$(IMDB_PATH)" || { $(NO_IMDB); }
	$(RUN_ENV) $(PY) -m jupyter execute --inplace --timeout=1800 $(NB)

imdb:
	@mkdir -p data
	@test -f data/aclImdb_v1.tar.gz || { echo "Downloading $(IMDB_URL) into data/"; \
	  $(PYTHON) -c 'import sys, urllib.request; urllib.request.urlretrieve(*sys.argv[1:])' \
	    $(IMDB_URL) data/aclImdb_v1.tar.gz.part && \
	  mv data/aclImdb_v1.tar.gz.part data/aclImdb_v1.tar.gz; }
	@echo "IMDb: $(CURDIR)/data/aclImdb_v1.tar.gz"

clean:
	$(JUPYTER_BOOK) clean --all .
