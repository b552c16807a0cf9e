# esm1v-scan: the two commands of the README, each installing what it needs first.
#   make example   run the example workflow (five real ESM-1v models, fetched on first use)
#   make test      run the test suite (tiny random checkpoints, no network needed)

PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 8
BIN    := $(VENV)/bin

.PHONY: example test smoke lint clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

example: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES)

test: $(BIN)/.installed
	$(BIN)/python -m pytest tests

# Offline smoke run with tiny RANDOM models (meaningless scores) instead of the real weights.
smoke: $(BIN)/.installed
	$(BIN)/python -m esm1v_scan.tiny --out resources/tiny_models
	$(BIN)/snakemake --cores $(CORES) --config model_dir=resources/tiny_models offline=True weights_lock=

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint --cores 1
	$(BIN)/snakefmt --check .

clean:
	rm -rf results logs benchmarks/score .snakemake report.html
