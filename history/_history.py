"""The job history table. A job leaves its record through the store's journal, like an index
row, so it never waits on the index; the next session applies it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cache_store import Index, IndexSession, Store
from records import JobRecord

__all__ = ["History"]

_KIND = "job"  # the journal records of this table
_DDL = """CREATE TABLE IF NOT EXISTS job_history (
    job_id TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    audio_hash TEXT NOT NULL,
    features JSON NOT NULL,
    outcome JSON NOT NULL,
    estimate_seconds DOUBLE,
    rating INTEGER
);
ALTER TABLE job_history ADD COLUMN IF NOT EXISTS refined_estimate_seconds DOUBLE;"""
_COLUMNS = (
    "job_id",
    "created_at",
    "audio_hash",
    "features",
    "outcome",
    "estimate_seconds",
    "refined_estimate_seconds",
)


def _apply(session: IndexSession, records: list[dict[str, Any]]) -> None:
    """Journaled records into the table; a re-recorded job keeps the rating it was given."""
    session.ensure(_DDL)
    for r in records:  # a handful per session: one per job
        session.con.execute(
            "INSERT OR REPLACE INTO job_history (job_id, created_at, audio_hash, features, "
            "outcome, estimate_seconds, refined_estimate_seconds, rating) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT rating FROM job_history WHERE job_id = ?))",
            [*(r.get(c) for c in _COLUMNS), r["job_id"]],
        )


class History:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.on_journal(_KIND, _apply)

    def record(self, record: JobRecord) -> None:
        self.store.journal({"kind": _KIND, **record.row()})

    def jobs(self, days: float | None = None) -> list[JobRecord]:
        """Recorded jobs, oldest first; only the last ``days`` when given."""
        since = self._before(days) if days is not None else None
        with self.store.session() as s:
            s.ensure(_DDL)
            found = s.con.execute(
                "SELECT job_id, strftime(created_at, '%Y-%m-%dT%H:%M:%SZ'), audio_hash, "
                "features, json_merge_patch(outcome, json_object('rating', rating)), "
                "estimate_seconds, refined_estimate_seconds FROM job_history "
                "WHERE created_at >= coalesce(?, created_at) ORDER BY created_at",
                [since],
            ).fetchall()
        return [JobRecord.from_row(dict(zip(_COLUMNS, r, strict=True))) for r in found]

    def rate(self, job_id: str, rating: int) -> bool:
        """The user's 1-5 rating of a job's subtitles; False when no such job is recorded."""
        if not 1 <= rating <= 5:
            raise ValueError(f"a rating is 1 to 5, not {rating}")
        with self.store.session() as s:
            s.ensure(_DDL)
            found = s.con.execute(
                "UPDATE job_history SET rating = ? WHERE job_id = ? RETURNING job_id",
                [rating, job_id],
            ).fetchall()
        return bool(found)

    def prune(self, days: float) -> int:
        """Forget jobs older than ``days`` (ML_TRAINING_DATA_RETENTION_DAYS)."""
        with self.store.session() as s:
            s.ensure(_DDL)
            gone = s.con.execute(
                "DELETE FROM job_history WHERE created_at < ? RETURNING job_id",
                [self._before(days)],
            ).fetchall()
        return len(gone)

    def _before(self, days: float) -> datetime:
        return (self.store.clock() - timedelta(days=days)).replace(tzinfo=None)

    @staticmethod
    def ensure(index: Index) -> None:
        """The table in a rebuilt index (the history itself is not derived from payloads)."""
        with index.session() as s:
            s.ensure(_DDL)
