# Every target installs what it needs first (through .venv/.installed), so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo test lint format typecheck generate update-spec check-generated bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(INSTALLED) ## Create .venv and install the package with every extra and the dev tools

demo: $(INSTALLED) ## The main job, offline: generate images through the built-in emulator into ./images
	$(BIN)/oai-images generate "a lighthouse at dusk, oil painting" --emulator --model gpt-image-1.5 --size 1536x1024 --out images
	$(BIN)/oai-images generate "a cute baby sea otter" --emulator --model gpt-image-2 --size 1536x864 --output-format webp --out images

test: $(INSTALLED) ## Run the test suite
	$(BIN)/python -m pytest

lint: $(INSTALLED) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED) ## ruff fix and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(INSTALLED) ## mypy --strict on src/ and tests/
	$(BIN)/mypy

generate: $(INSTALLED) ## Regenerate generated/oai_images_api and generator/stamp.json from openapi/images.yaml
	$(BIN)/python generator/regenerate.py

# UPSTREAM: the official openapi.yaml (or .yaml.gz); without it the overlay is re-applied to openapi/upstream.yaml.
# COMMIT and DATE record where a changed upstream comes from (read from git when UPSTREAM is in a clean checkout).
update-spec: $(INSTALLED) ## Rebuild openapi/images.yaml from UPSTREAM=openapi.yaml + openapi/overlay.yaml, regenerate, report
	$(BIN)/python generator/update_spec.py $(if $(UPSTREAM),--upstream '$(UPSTREAM)') \
		$(if $(COMMIT),--commit '$(COMMIT)') $(if $(DATE),--date '$(DATE)')

check-generated: $(INSTALLED) ## Fail, naming the files, if the fragment, generated/ or the stamp are not what they are made from
	$(BIN)/python generator/update_spec.py --check
	$(BIN)/openapi-spec-validator openapi/images.yaml
	$(BIN)/python generator/regenerate.py --check

# The benchmarks run in their own environment (the official client is in .venv only as a test dependency).
# It holds what a user of the library has (no `cli` extra: httpx imports rich whenever rich is installed).
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[emulator]' -r bench/requirements.txt
	@touch $@

bench: $(BENCH_VENV)/.installed ## Benchmarks against the official client and raw httpx; writes bench/RESULTS.md
	$(BENCH_VENV)/bin/python -m bench

clean: ## Remove the virtualenv, caches and generated images
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache images build dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
