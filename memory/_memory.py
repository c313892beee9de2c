"""Layer 4 over the store: a job's segments matched, its fresh translations kept, and the
memory's share of maintenance. With a shared level, what one host translates every host reuses:
entries are written through, and a host backfills the others' when it loads a language pair."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cache_store import Index, IndexSession, Layer, Outcome, Store, unless_disk_full

from ._entry import TmContext, TmEntry, TmMatch, TmPolicy, canonical
from ._matcher import TranslationMemory
from ._tables import LocalTable, SharedTable

__all__ = ["OUTBOX_KIND", "Memory"]

log = logging.getLogger("memory")

OUTBOX_KIND = "tm"  # what waits in the shared level's outbox: memory entries by key


class Memory:
    def __init__(self, store: Store, policy: TmPolicy | None = None) -> None:
        self.store = store
        self.policy = policy or TmPolicy()
        self._pairs: dict[tuple[str, str], TranslationMemory] = {}
        self._last: tuple[tuple[TmEntry, ...], list[TmMatch | None]] | None = None

    @property
    def enabled(self) -> bool:
        return self.store.enabled and self.policy.enabled

    def pair(self, source_lang: str, target_lang: str) -> TranslationMemory:
        """The matcher for one language pair, loaded once (writes reload it)."""
        key = (source_lang, target_lang)
        if key not in self._pairs:
            shared = self.store.shared
            theirs: list[dict[str, Any]] = (
                shared.call(lambda: SharedTable(shared.index).select(*key), [])
                if shared is not None
                else []
            )
            with self.store.session() as s:
                table = LocalTable(s)
                if theirs:  # backfill what other hosts translated
                    ours = table.keys(*key)
                    table.upsert([row for row in theirs if row["cache_key"] not in ours])
                self._pairs[key] = TranslationMemory(table.select(*key))
        return self._pairs[key]

    def forget(self) -> None:
        """Drop loaded matchers after the memory changed underneath them."""
        self._pairs.clear()
        self._last = None

    def find(
        self,
        source: str,
        source_lang: str,
        target_lang: str,
        context: Mapping[str, Iterable[str]] | None = None,
        threshold: float | None = None,
    ) -> tuple[dict[str, Any] | None, float]:
        """The spec's ``find_translation_match``: (entry with at least ``target``, score) or
        (None, 0.0). ``context`` holds ``prev`` and ``next``, each neighbouring source segments
        nearest first. Any model's translations qualify here; jobs narrow that to their own."""
        if not self.enabled:
            return None, 0.0
        ctx = TmContext(
            tuple((context or {}).get("prev", ())), tuple((context or {}).get("next", ()))
        )
        found = self.pair(source_lang, target_lang).match(
            source, ctx, threshold=self.policy.fuzzy_threshold if threshold is None else threshold
        )
        if found is None:
            return None, 0.0
        return {**found.entry.to_dict(), "target": found.target}, found.score

    def match(self, queries: Sequence[TmEntry]) -> list[TmMatch | None]:
        """A job's lookups, one per segment (``target`` unused): this model's and human
        translations under the same glossary terms, at or above ``TM_FUZZY_MATCH_THRESHOLD``.
        Asked twice for the same segments (whether a job has work, then the work), it answers
        from the first time."""
        if not queries or not self.enabled:
            return [None for _ in queries]
        asked = tuple(queries)
        if self._last is not None and self._last[0] == asked:
            return list(self._last[1])
        first = queries[0]
        memory = self.pair(first.source_lang, first.target_lang)
        found = [
            memory.match(
                q.source,
                q.context,
                threshold=self.policy.fuzzy_threshold,
                models=(q.model,),
                glossary_hash=q.glossary_hash,
            )
            for q in queries
        ]
        self._last = (asked, found)
        return list(found)

    @unless_disk_full("the job's translations", default=0)
    def record(
        self,
        queries: Sequence[TmEntry],
        matches: Sequence[TmMatch | None],
        fresh: Iterable[TmEntry],
    ) -> int:
        """After a job: store its fresh translations (not those under ``TM_MIN_CONFIDENCE``),
        count each reuse, and log one event per segment, in one index session. Returns the
        entries stored."""
        now = self.store.now()
        rows = {
            e.key: {**e.row(), "created_at": now, "last_used": now}
            for e in fresh
            if e.source and (e.user_approved or e.confidence >= self.policy.min_confidence)
        }
        reused: list[str] = []
        events = []
        enabled = self.store.enabled
        for query, match in zip(queries, matches, strict=True):
            hit = match is not None and match.score >= self.policy.reuse_score
            if match is not None and hit:
                reused.append(match.entry.key)
                reason = f"{match.level} match {match.score:.2f}"
            elif match is not None:
                reason = f"best match {match.score:.2f} < {self.policy.reuse_score:.2f}"
            else:
                reason = "no match" if enabled else self.store.bypass_reason
            events.append(
                self.store.event(
                    Layer.TRANSLATIONS,
                    match.entry.key if hit and match else query.key,
                    Outcome.HIT if hit else Outcome.MISS if enabled else Outcome.BYPASSED,
                    None if hit else "new content" if enabled else "bypassed",
                    reason,
                    match.entry.compute_seconds if hit and match else 0.0,
                )
            )
        with self.store.session() as s:
            table = LocalTable(s)
            table.upsert(list(rows.values()))
            table.touch(reused, now)
            s.add_events(events)
        self._share(list(rows.values()))
        log.info(
            "Translation memory: %d/%d segments reused, %d new entries stored",
            len(reused),
            len(events),
            len(rows),
        )
        return len(rows)

    def import_entries(self, entries: Iterable[TmEntry]) -> int:
        """Store entries as given (a TMX import): no confidence bar, timestamps kept."""
        now = self.store.now()
        rows = {
            e.key: {
                **e.row(),
                "created_at": e.created_at or now,
                "last_used": e.last_used or e.created_at or now,
            }
            for e in entries
        }
        with self.store.session() as s:
            LocalTable(s).upsert(list(rows.values()))
        self._share(list(rows.values()))
        return len(rows)

    def entries(
        self, source_lang: str | None = None, target_lang: str | None = None
    ) -> list[TmEntry]:
        """Every entry, optionally of one language pair (for TMX export)."""
        with self.store.session() as s:
            table = LocalTable(s).select(source_lang, target_lang)
        return [TmEntry.from_row(row) for row in table.to_pylist()]

    def approve(
        self, source: str, source_lang: str, target_lang: str, target: str | None = None
    ) -> int:
        """Mark a segment's translations approved; with ``target``, store the user's own
        translation as an approved human entry. Approved entries win ties and never expire.
        Returns the entries approved."""
        with self.store.session() as s:
            table = LocalTable(s)
            if target is not None:
                entry = TmEntry(source, target, source_lang, target_lang, user_approved=True)
                now = self.store.now()
                table.upsert([{**entry.row(), "created_at": now, "last_used": now}])
            approved = table.approve(canonical(source), source_lang, target_lang)
            rows = table.rows(approved)
        self._share(rows)
        return len(approved)

    def _share(self, rows: Sequence[dict[str, Any]]) -> None:
        self.forget()
        shared = self.store.shared
        if shared is not None:
            keys = [row["cache_key"] for row in rows]
            shared.share(OUTBOX_KIND, keys, lambda: SharedTable(shared.index).upsert(rows))

    def republish(self, keys: Sequence[str]) -> Sequence[str]:
        """Share entries an outage held back (``cache_store.share_pending``); returns those
        shared."""
        shared = self.store.shared
        if shared is None:
            return []
        with self.store.session() as s:
            rows = LocalTable(s).rows(keys)

        def upsert() -> bool:
            SharedTable(shared.index).upsert(rows)
            return True

        return list(keys) if shared.call(upsert, False) else []

    # --- its share of maintenance (in the store's sessions) ---------------------------------
    @staticmethod
    def usage(session: IndexSession) -> tuple[int, int]:
        return LocalTable(session).usage()

    def expire(self, dry_run: bool) -> tuple[int, int]:
        """``TM_MAX_AGE_DAYS``, ``TM_MIN_REUSE_COUNT`` and ``TM_MAX_CACHE_SIZE_GB``: returns the
        entries (expired, evicted)."""
        now: datetime = self.store.now()
        p = self.policy
        with self.store.session() as s:
            cutoff = now - timedelta(days=p.max_age_days)
            expired, evicted, _ = LocalTable(s).expire(
                cutoff, p.min_reuse_count, p.max_bytes, dry_run
            )
        if not dry_run:
            self.forget()
        return expired, evicted

    def clear(self, session: IndexSession) -> int:
        self.forget()
        return LocalTable(session).clear()

    def forget_audio(self, session: IndexSession, audio_hash: str) -> int:
        self.forget()
        return LocalTable(session).forget_audio(audio_hash)

    @staticmethod
    def salvage(index: Index, old: Path) -> None:
        """Carry the memory into a rebuilt index: it lives only in the index, so it is copied
        over when the old file still opens (a rebuild is often for stale rows, not a broken
        file)."""
        import duckdb

        from cache_store import IndexDamagedError

        try:
            with index.session() as s:
                LocalTable(s).copy_from(str(old))
        except (duckdb.Error, IndexDamagedError) as exc:
            first = str(exc).splitlines()[0]
            log.warning("translation memory not recovered from %s: %s", old, first)
