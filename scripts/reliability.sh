#!/usr/bin/env bash
# The reliability suites (tests/reliability), then their table for the README.
#   bash scripts/reliability.sh          # the CI settings (a few minutes; also part of test.sh)
#   bash scripts/reliability.sh --full   # the long settings (60 s of 8 writers, 200 kills, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ "${1:-}" = "--full" ] && export RELIABILITY_FULL=1
rm -rf test-artifacts/reliability
.venv/bin/python -m pytest -p no:cacheprovider -q tests/reliability
.venv/bin/python -m tests.reliability.report
