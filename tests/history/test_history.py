"""The job history over the store: records journaled, then read back oldest first, rated and
pruned; a store that has no applier for them keeps them journaled for one that has."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from cache_store import Store
from history import History
from records import JobFeatures, JobOutcome, JobRecord

from ..conftest import Clock


def _record(job_id: str, created_at: str) -> JobRecord:
    features = JobFeatures(60.0, 16000, 30.0, 30.0, model="tiny.en")
    return JobRecord(job_id, created_at, "a" * 64, features, JobOutcome({"asr": 5.0}, 7.0))


def test_recorded_jobs_read_back_rated_and_pruned(tmp_path: Path, clock: Clock) -> None:
    history = History(Store(tmp_path, clock=clock))
    history.record(_record("old", "2025-11-01T10:00:00Z"))
    history.record(_record("new", "2025-12-30T10:00:00Z"))
    assert [r.job_id for r in history.jobs()] == ["old", "new"]
    assert history.rate("new", 4) and not history.rate("nobody", 4)
    history.record(_record("new", "2025-12-30T10:00:00Z"))  # recorded again: the rating stays
    assert [r.outcome.rating for r in history.jobs()] == [None, 4]
    assert [r.job_id for r in history.jobs(days=10)] == ["new"]
    clock.now += timedelta(days=1)
    assert history.prune(30) == 1 and [r.job_id for r in history.jobs()] == ["new"]


def test_a_store_without_the_applier_keeps_the_records(tmp_path: Path) -> None:
    History(Store(tmp_path)).record(_record("kept", "2026-01-01T10:00:00Z"))
    assert Store(tmp_path).keys() == set()  # a session of a bare store: the record waits
    assert [r.job_id for r in History(Store(tmp_path)).jobs()] == ["kept"]


def test_a_history_from_before_refined_estimates_gains_their_column(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.session() as s:  # the table as it was before refined estimates were kept
        s.con.execute(
            "CREATE TABLE job_history (job_id TEXT PRIMARY KEY, created_at TIMESTAMP NOT NULL, "
            "audio_hash TEXT NOT NULL, features JSON NOT NULL, outcome JSON NOT NULL, "
            "estimate_seconds DOUBLE, rating INTEGER)"
        )
    history = History(store)
    old = _record("old", "2025-11-01T10:00:00Z")
    history.record(old)
    history.record(dataclasses.replace(old, job_id="new", refined_estimate_seconds=6.5))
    assert [r.refined_estimate_seconds for r in history.jobs()] == [None, 6.5]
