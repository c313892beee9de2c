"""The similar-cut index: each stored film's Chromaprint subhashes, so a new cut finds the films
worth aligning without scanning every fingerprint. ``fp_subhashes`` in each host's DuckDB index,
``cpwx_fp_subhashes`` in the shared PostgreSQL index (every host finds every host's films)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from cache_store import IndexSession, SharedIndex

from ._align import U32, Fingerprint, as_u32

__all__ = ["LocalSubhashes", "SharedSubhashes", "subhashes"]

_LOCAL_DDL = (
    "CREATE TABLE IF NOT EXISTS fp_subhashes (subhash UINTEGER NOT NULL, audio_hash TEXT NOT NULL);"
)
_SHARED_DDL = """
CREATE TABLE IF NOT EXISTS cpwx_fp_subhashes (subhash BIGINT NOT NULL, audio_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cpwx_fp_subhash ON cpwx_fp_subhashes (subhash);
"""


def subhashes(fp: Fingerprint, every: int = 4) -> U32:
    """Sorted distinct 20-bit keys sampled from a fingerprint, to find a film's other cuts.

    The caller keeps an inverted index, a table of ``(subhash, audio_hash)`` rows for every
    stored film; a new film's keys are looked up there, and the few films sharing the most of
    them are the ones worth an :func:`align`. A 2-hour film has ~11,000 keys; a re-encoded cut
    of it shares about half, a noisy one a fifth; other content shares a few percent (chance,
    and sounds that recur, such as one voice saying the same words).

    Items are sampled by value, not position: an item is kept when a hash of its key is 0
    modulo ``every``, so two cuts sample the same audio whatever was edited before it. The key
    is the item's top 20 bits (the first 10 classifiers), which survive re-encoding and noise
    far more often than all 32.
    """
    keys = as_u32(fp) >> np.uint32(12)
    mixed = (keys.astype(np.uint64) * np.uint64(0x9E3779B1)) >> np.uint64(13)
    return np.unique(keys[(mixed % np.uint64(every)) == 0])


class LocalSubhashes:
    """``fp_subhashes`` in one index session."""

    def __init__(self, session: IndexSession) -> None:
        session.ensure(_LOCAL_DDL)
        self.s = session

    def put(self, audio_hash: str, keys: Sequence[int]) -> None:
        """(Re)place one film's subhashes."""
        self.s.con.execute("DELETE FROM fp_subhashes WHERE audio_hash = ?", [audio_hash])
        rows = pa.table(
            {"subhash": pa.array(keys, pa.uint32()), "audio_hash": [audio_hash] * len(keys)}
        )
        with self.s.registered("new_subhashes", rows):
            self.s.con.execute("INSERT INTO fp_subhashes SELECT * FROM new_subhashes")

    def candidates(self, keys: Sequence[int], exclude: str, limit: int) -> list[tuple[str, int]]:
        """Films sharing the most subhashes with ``keys``, most first."""
        wanted = pa.table({"subhash": pa.array(keys, pa.uint32())})
        with self.s.registered("wanted_subhashes", wanted):
            found = self.s.con.execute(
                "SELECT audio_hash, count(*) AS n FROM fp_subhashes "
                "JOIN wanted_subhashes USING (subhash) WHERE audio_hash <> ? "
                "GROUP BY 1 ORDER BY n DESC, audio_hash LIMIT ?",
                [exclude, limit],
            ).fetchall()
        return [(str(h), int(n)) for h, n in found]

    def forget(self, audio_hash: str | None = None) -> None:
        """One film's subhashes, or every film's."""
        self.s.con.execute(
            "DELETE FROM fp_subhashes WHERE audio_hash = coalesce(?, audio_hash)", [audio_hash]
        )


class SharedSubhashes:
    """``cpwx_fp_subhashes`` on the shared index; raises ``SharedUnavailableError``."""

    def __init__(self, index: SharedIndex) -> None:
        index.ensure(_SHARED_DDL)
        self.index = index

    def put(self, audio_hash: str, keys: Sequence[int]) -> None:
        with self.index.cursor() as cur, cur.connection.transaction():
            cur.execute("DELETE FROM cpwx_fp_subhashes WHERE audio_hash = %s", (audio_hash,))
            with cur.copy("COPY cpwx_fp_subhashes (subhash, audio_hash) FROM STDIN") as copy:
                for key in keys:
                    copy.write_row((key, audio_hash))

    def candidates(self, keys: Sequence[int], exclude: str, limit: int) -> list[tuple[str, int]]:
        with self.index.cursor() as cur:
            cur.execute(
                "SELECT audio_hash, count(*) AS n FROM cpwx_fp_subhashes "
                "WHERE subhash = ANY(%s) AND audio_hash <> %s "
                "GROUP BY 1 ORDER BY n DESC, audio_hash LIMIT %s",
                (list(keys), exclude, limit),
            )
            return [(str(r["audio_hash"]), int(r["n"])) for r in cur.fetchall()]
