# The README's two commands: `make book` (set up, then build the site) and `make test`.
PYTHON ?= python3
BUILD_FLAGS = -W --keep-going

.PHONY: setup book test chapter clean

setup:
	$(PYTHON) -m pip install -q torch==2.13.0 || $(PYTHON) -m pip install -q torch
	$(PYTHON) -m pip install -q -r requirements.txt

book: setup
	jupyter-book build $(BUILD_FLAGS) .

test:
	$(PYTHON) -m pytest

# Execute one chapter in the smoke profile and store its outputs (see CONTRIBUTING.md).
chapter:
	BOOK_PROFILE=smoke $(PYTHON) -m jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=1800 $(NB)

clean:
	jupyter-book clean --all .
