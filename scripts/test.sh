#!/usr/bin/env bash
# Set up if needed, then run the linters, the import contracts and the whole test suite (real
# engines, ~20 min).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
.venv/bin/pytest -p no:cacheprovider "$@"
