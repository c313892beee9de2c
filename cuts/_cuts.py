"""Other cuts of a film, over the store: every fingerprint indexed by its subhashes (on this host,
and on the shared level so every host finds it), the films most like a new one aligned with it,
and the film each audio belongs to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cache_store import (
    Index,
    IndexRow,
    IndexSession,
    Layer,
    Store,
    fingerprint_key,
    is_disk_full,
    unless_disk_full,
)
from glossary import GlossaryError, check_movie_id, movie_id_from_path
from records import AudioFingerprint

from ._align import Fingerprint
from ._links import CutLinks
from ._similar import SimilarJob, compare
from ._subhashes import LocalSubhashes, SharedSubhashes, subhashes

__all__ = ["OUTBOX_KIND", "Cuts"]

OUTBOX_KIND = "subhashes"  # what waits in the shared level's outbox: films by audio hash

# Candidates per speed: (audio hash, subhashes shared), most first.
_Votes = list[tuple[float, list[tuple[str, int]]]]


def _title(source_file: str) -> str | None:
    """A film id from a stored source path: cuts of one film usually share their title."""
    try:
        return movie_id_from_path(Path(source_file))
    except GlossaryError:
        return None


class Cuts:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.links = CutLinks(store.root / "cuts")

    def film(self, audio_hash: str, media: Path, given: str | None = None) -> str:
        """Whose glossary a job on this audio uses: ``given`` (``--movie-id``); else the film
        this audio was recorded under (by its first job, or by a similar cut it was linked to);
        else a film id from the file name, which all releases of a film named alike share."""
        if given:
            return check_movie_id(given)
        link = self.links.get(audio_hash) if self.store.enabled else None
        return link.movie_id if link else movie_id_from_path(media)

    def fingerprint(self, audio_hash: str) -> AudioFingerprint | None:
        """A stored fingerprint, read without counting a lookup."""
        found = self.store.peek(fingerprint_key(audio_hash))
        return AudioFingerprint.from_dict(found.data) if found.hit and found.data else None

    @unless_disk_full("the fingerprint's similarity index")
    def index(self, fingerprint: AudioFingerprint) -> None:
        """Make a stored film findable by its other cuts, on every host with a shared level."""
        keys = subhashes(fingerprint.chromaprint).tolist()
        with self.store.session() as s:
            LocalSubhashes(s).put(fingerprint.audio_hash, keys)
        self._share(fingerprint.audio_hash, keys)

    def _share(self, audio_hash: str, keys: Sequence[int]) -> bool:
        shared = self.store.shared
        if shared is None:
            return True
        return shared.share(
            OUTBOX_KIND, [audio_hash], lambda: SharedSubhashes(shared.index).put(audio_hash, keys)
        )

    def republish(self, audio_hashes: Sequence[str]) -> Sequence[str]:
        """Share films an outage held back (``cache_store.share_pending``); returns those done."""
        done = []
        for audio_hash in audio_hashes:
            fingerprint = self.fingerprint(audio_hash)
            keys = subhashes(fingerprint.chromaprint).tolist() if fingerprint else []
            if fingerprint is None or self._share(audio_hash, keys):
                done.append(audio_hash)
        return done

    def find_similar(
        self, audio_hash: str, threshold: float = 0.80, limit: int = 5
    ) -> list[SimilarJob]:
        """The spec's ``find_similar_jobs``: stored films most like this audio, best first, with
        the shared spans, the similarity and its band."""
        new = self.fingerprint(audio_hash)
        return [] if new is None else self.similar_to(new, threshold, limit)

    def similar_to(
        self,
        new: AudioFingerprint,
        threshold: float = 0.80,
        limit: int = 5,
        at_speeds: Mapping[float, Fingerprint] | None = None,
    ) -> list[SimilarJob]:
        """``find_similar`` for a fingerprint in hand (a job's). Only the films sharing the most
        Chromaprint subhashes are aligned, so the cost does not grow with the store.
        ``at_speeds``: the new audio also fingerprinted at other speeds (``SPEEDS``), so a PAL
        release finds and aligns with its film-speed cut; each candidate is aligned at the speed
        whose subhashes found it."""
        prints = {1.0: new.chromaprint, **(at_speeds or {})}
        keys = {speed: subhashes(fp).tolist() for speed, fp in prints.items()}
        found: dict[str, tuple[int, float]] = {}  # audio hash: (shared subhashes, speed)
        for speed, candidates in self._votes(keys, new.audio_hash, limit):
            for other, count in candidates:
                if count > found.get(other, (0, 1.0))[0]:
                    found[other] = (count, speed)
        best = sorted(found.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
        jobs = []
        for other_hash, (shared, speed) in best:
            old = self.fingerprint(other_hash)
            if old is not None:
                titles = (_title(new.source_file), _title(old.source_file))
                jobs.append(compare(new, old, shared, titles, at_speeds, speed))
        return sorted((j for j in jobs if j.similarity >= threshold), key=lambda j: -j.similarity)

    def _votes(self, keys: Mapping[float, list[int]], exclude: str, limit: int) -> _Votes:
        """Candidates on this host, then on the shared level (films other hosts processed)."""
        try:
            with self.store.session() as s:
                table = LocalSubhashes(s)
                votes = [(speed, table.candidates(k, exclude, limit)) for speed, k in keys.items()]
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            return []
        shared = self.store.shared
        if shared is not None:

            def ask() -> _Votes:
                table = SharedSubhashes(shared.index)
                return [(speed, table.candidates(k, exclude, limit)) for speed, k in keys.items()]

            votes += shared.call(ask, [])
        return votes

    # --- its share of maintenance (in the store's sessions) ---------------------------------
    def clear(self, session: IndexSession) -> None:
        """With the fingerprints: the index that finds them, and what cuts inherited."""
        LocalSubhashes(session).forget()
        self.links.clear()

    @staticmethod
    def forget_audio(session: IndexSession, audio_hash: str) -> None:
        LocalSubhashes(session).forget(audio_hash)

    @staticmethod
    def on_import(
        session: IndexSession, entries: Sequence[tuple[IndexRow, dict[str, Any]]]
    ) -> None:
        """Index the fingerprints an archive brought."""
        prints = (doc for row, doc in entries if row.cache_type == Layer.FINGERPRINTS)
        _put(LocalSubhashes(session), prints)

    @staticmethod
    def reindex(index: Index, documents: Iterable[dict[str, Any]]) -> None:
        """A rebuilt index's subhashes, from the fingerprint payloads alone."""
        with index.session() as s:
            _put(LocalSubhashes(s), documents)


def _put(table: LocalSubhashes, documents: Iterable[dict[str, Any]]) -> None:
    """Index fingerprint payloads' documents."""
    for document in documents:
        fingerprint = AudioFingerprint.from_dict(document["data"])
        table.put(fingerprint.audio_hash, subhashes(fingerprint.chromaprint).tolist())
