# esm1v-scan: the two commands of the README, each installing what it needs first.
#   make example   run the example workflow (five real ESM-1v models, fetched on first use)
#   make test      run the test suite (tiny random checkpoints, no network needed)

PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 8
BIN    := $(VENV)/bin

.PHONY: example test smoke lint config-readme clean clean-all

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

# Offline smoke run with tiny RANDOM models (meaningless scores) instead of the real weights, in
# its own folder (results-smoke/, via --directory) so it never mixes with real results/.
SMOKE := results-smoke
smoke: $(BIN)/.installed
	$(BIN)/python -m esm1v_scan.scoring.tiny_models --out $(SMOKE)/tiny_models
	$(BIN)/snakemake --cores $(CORES) --directory $(SMOKE) --config \
	  sequences="$(CURDIR)/resources/example.fasta" model_dir=tiny_models offline=True \
	  weights_lock= cache_dir=

# config/README.md's key table, rewritten from the schema (a test checks they agree)
config-readme: $(BIN)/.installed
	$(BIN)/python -c "import sys, yaml, pathlib; sys.path.insert(0, 'workflow'); \
	from esm1v_scan.inputs.config_checks import readme_with_keys; p = pathlib.Path('config/README.md'); \
	p.write_text(readme_with_keys(p.read_text(), yaml.safe_load(open('workflow/schemas/config.schema.yaml'))))"

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint --cores 1
	$(BIN)/snakefmt --check .

# Everything the workflow writes, but the downloaded weights (several GB; `make clean-all` removes
# them too). resources/models/weights.lock.tsv is yours: commit it, it is never removed.
clean:
	rm -rf results logs benchmarks/score .snakemake report.html report.zip $(SMOKE) \
	  resources/tiny_models resources/score_cache resources/biolm_cache

clean-all: clean
	rm -rf resources/models/*.pt resources/models/*.part resources/models/*.sha256.json
