"""This host's level: payload files under the cache folder, their DuckDB index, and the journal
that carries rows and events to the index without making a write wait for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ._disk import is_disk_full, unless_disk_full
from ._index import Index, IndexRow, IndexSession, row_from_json, row_to_json
from ._journal import Journal
from ._locks import exclusive
from ._payloads import PayloadError, quarantine, stage

__all__ = ["JournalApplier", "LocalLevel"]

# How a domain package's journaled records reach its table: (session, records of its kind).
JournalApplier = Callable[[IndexSession, list[dict[str, Any]]], None]


class LocalLevel:
    """Implements ``Level``. A payload goes in first (it is the truth) and its row follows
    through the journal, so a write never waits for the index (one DuckDB writer at a time)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)
        self.index = Index(root / "index.duckdb")
        self.journal = Journal(root / "journal")
        self.quarantine_dir = root / "quarantine"
        self._appliers: dict[str, JournalApplier] = {}

    # --- Level ------------------------------------------------------------------------------
    def read(self, rel: str) -> bytes | None:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise PayloadError(f"payload unreadable: {exc.strerror or exc}") from exc

    def write(self, row: IndexRow, raw: bytes) -> bool:
        staged = stage(self.root / row.file_path, raw, row.checksum)
        with self.payload_lock():
            staged.commit()
            self.journal.append({"kind": "row", **row_to_json(row)})
        return True

    def fresh(self, cache_key: str, rel: str, since: datetime) -> bool:  # noqa: ARG002
        try:
            written = (self.root / rel).stat().st_mtime
        except FileNotFoundError:
            return False
        return written >= since.timestamp()

    def newest_parts(self, layer: str, audio_hash: str) -> dict[str, Any] | None:
        try:
            with self.session() as s:
                return s.newest_parts(layer, audio_hash)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            return None

    # --- this level only --------------------------------------------------------------------
    def on_journal(self, kind: str, apply: JournalApplier) -> None:
        """Records of ``kind`` that a domain package journals reach its table through ``apply``
        (a store without the applier keeps them journaled)."""
        self._appliers[kind] = apply

    @contextmanager
    def session(self) -> Iterator[IndexSession]:
        """An index session, with every journaled row and event applied first (committed on
        its own, so a failure in the caller's work never loses them)."""
        self._apply_journal()
        with self.index.session() as s:
            yield s

    @unless_disk_full("the journal's rows and events (kept for the next session)")
    def _apply_journal(self) -> None:
        with self.journal.taken() as records:
            kinds: dict[str, list[dict[str, Any]]] = {}
            for record in records:
                kinds.setdefault(str(record.get("kind")), []).append(record)
            with self.index.session() as s:
                latest = {r["cache_key"]: r for r in kinds.pop("row", [])}
                s.upsert(row_from_json(r) for r in latest.values())
                s.add_events(kinds.pop("event", []))
                for kind, apply in self._appliers.items():
                    apply(s, kinds.pop(kind, []))
            for kept in kinds.values():  # no applier here: for a store that has one
                for record in kept:
                    self.journal.append(record)

    @contextmanager
    def payload_lock(self) -> Iterator[None]:
        """Held while a payload is renamed in and its row journaled, or while payloads are
        removed: the two never interleave. Taken before the index lock, never inside it."""
        with exclusive(self.root / "payloads.lock"):
            yield

    def quarantine(self, rel: str, layer: str, stamp: str) -> Path | None:
        """Move a damaged payload aside (never served, still inspectable) and forget its row."""
        moved = quarantine(self.root / rel, self.quarantine_dir / layer, stamp)
        self._forget(Path(rel).stem)
        return moved

    @unless_disk_full("the index row of a quarantined entry (validate drops it)")
    def _forget(self, cache_key: str) -> None:
        with self.session() as s:
            s.delete([cache_key])

    @unless_disk_full("a removal (the entries stay until a cleanup)", default=[])
    def remove(self, entries: Iterable[tuple[str, str, str | None]]) -> list[str]:
        """Remove entries given as (key, payload path, checksum seen or None for any).

        Holds the payload lock, under which every ``write`` renames its file and journals its
        row, and applies the journal first: so the index knows every write, and an entry
        rewritten since it was seen (another checksum now) is left alone. Returns the keys
        removed.
        """
        wanted = list(entries)
        with self.payload_lock(), self.session() as s:
            current = s.checksums([digest for digest, _, _ in wanted])
            todo = [
                (digest, self.root / rel)
                for digest, rel, seen in wanted
                if seen is None or current.get(digest, seen) == seen
            ]

            def unlink(batch: list[tuple[str, Path]]) -> None:
                for _, path in batch:
                    path.unlink(missing_ok=True)

            # Unlinks are disk-bound (~100 us each once written back, on a VM disk); eight
            # threads, each over its own slice, overlap them.
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(unlink, [todo[i::8] for i in range(8)]))
            removed = [digest for digest, _ in todo]
            s.delete(removed)
        return removed
