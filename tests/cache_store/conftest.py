from __future__ import annotations

from datetime import UTC, datetime

import pytest


class Clock:
    """An injectable clock for TTL, eviction and stats windows."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()
