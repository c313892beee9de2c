"""The reliability suites: `bash scripts/reliability.sh` runs them all (RELIABILITY_FULL=1: the
long settings) and prints the README's table from what each suite recorded."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from testkit import REPO

FULL = os.environ.get("RELIABILITY_FULL") == "1"
RESULTS = Path(os.environ.get("CPWX_TEST_ARTIFACTS", REPO / "test-artifacts")) / "reliability"

Record = Callable[..., None]


@pytest.fixture
def record() -> Record:
    """Keep one suite's tally for the report: cases tried, faults injected, entries lost,
    corrupt entries served."""

    def write(
        suite: str, *, cases: int, faults: int, lost: int = 0, corrupt_served: int = 0
    ) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        row = {
            "suite": suite,
            "cases": cases,
            "faults": faults,
            "lost": lost,
            "corrupt_served": corrupt_served,
            "full": FULL,
        }
        (RESULTS / f"{suite}.json").write_text(json.dumps(row))

    return write
