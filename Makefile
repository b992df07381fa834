# Two commands: `make run` (the whole study on the embedded default) and `make test`.
# Both create .venv and install the pinned dependencies on first use, quietly after that.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: run test lint clean

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --quiet rules
	$(BIN)/snakemake --quiet rules --report results/report.html

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks workflow/scripts
	$(BIN)/ruff format --check src tests benchmarks workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1

# CPU torch is pinned to the release whose wheel this kind of machine holds locally;
# see README "GPU installs" for a CUDA build.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0 -e '.[dev]'
	@touch $@

clean:
	rm -rf results logs .snakemake
