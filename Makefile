# Tasks for developing the template itself; `make` alone lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTEST := poetry run pytest

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: install
install: ## Install the template's development tools (Poetry project at the top level)
	poetry install --no-interaction

.PHONY: test
test: install ## Every test: fast tier and Docker tier (needs a running Docker engine)
	REQUIRE_DOCKER=1 $(PYTEST)

.PHONY: test-fast
test-fast: install ## Fast tier only: renders, hooks and the generated projects' unit tests, no Docker
	$(PYTEST)

.PHONY: lint
lint: install ## ruff, mypy and shellcheck on the template's own code
	poetry run ruff check .
	poetry run ruff format --check .
	poetry run mypy
	poetry run shellcheck .ci/run tests/support/*.sh

.PHONY: bake
bake: install ## Render the template with its defaults into ./build (for a look)
	rm -rf build && poetry run cookiecutter . --no-input --output-dir build
