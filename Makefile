# The README's two commands: `make book` (set up, then build the site) and `make test`.
PYTHON ?= python3
# -W: a warning, such as a cell that raised while executing, fails the build (JB 1.x exits 0 otherwise).
BUILD_FLAGS = -W --keep-going
BOOK_DIR ?= .

.PHONY: setup book build site-check test chapter clean

setup:
	$(PYTHON) -m pip install -q torch==2.13.0 || $(PYTHON) -m pip install -q torch
	$(PYTHON) -m pip install -q -r requirements.txt

book: setup build

build:
	jupyter-book build $(BUILD_FLAGS) $(BOOK_DIR)

# What a reader sees: the built pages carry no build debris (after `make build`).
site-check:
	$(PYTHON) -m pytest tests/site -q -o addopts="-p no:cacheprovider"

# The profile under test is set here, not taken from the machine: a GPU would otherwise pick
# `full`. tests/test_reader_paths.py runs the chapters in the full profile and as in Colab.
test:
	BOOK_PROFILE=smoke $(PYTHON) -m pytest

# Execute one chapter in the smoke profile and store its outputs (see CONTRIBUTING.md).
chapter:
	BOOK_PROFILE=smoke jupyter execute --inplace --timeout=1800 $(NB)

clean:
	jupyter-book clean --all .
