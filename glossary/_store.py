"""Layer 5's glossary files.

Files follow the spec's layout, one file per glossary rather than one per term type, so a single
atomic rename updates a film: ``{root}/{movie_id}/learned_glossary.json`` and
``{root}/global/global_glossary.json``; a film's cast (its speakers' voices and names) is
``{root}/{movie_id}/speakers.json`` beside its glossary. All are self-verifying payloads
(``_payloads``): a damaged file is a ``PayloadError``, never a half-read glossary. Every
read-modify-write holds one store-wide flock, so two jobs learning at once lose no counts.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cache_store import (
    PayloadError,
    decode,
    exclusive,
    read_verified,
    unless_disk_full,
    write_bytes,
    write_verified,
)
from records import Diarization, Transcript

from ._cast import Cast
from ._learn import (
    MAX_LEARNED_FROM,
    LearnReport,
    absorb,
    extract_character_names,
    extract_cultural_terms,
    transcript_digest,
)
from ._model import MOVIE_ID, Glossary, GlossaryEntry, GlossaryError, GlossaryPolicy, check_movie_id

__all__ = ["GLOBAL_ID", "GlossaryStore"]

GLOBAL_ID = "global"


class GlossaryStore:
    """The glossary files under ``{cache_dir}/glossary_learned``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = self.root / ".glossary.lock"

    def path(self, movie_id: str) -> Path:
        movie_id = check_movie_id(movie_id)
        if movie_id == GLOBAL_ID:
            return self.root / GLOBAL_ID / "global_glossary.json"
        return self.root / movie_id / "learned_glossary.json"

    def load(self, movie_id: str) -> Glossary:
        """A film's glossary (GLOBAL_ID: the global one); empty when there is none yet."""
        movie_id = check_movie_id(movie_id)
        return _read(self.path(movie_id), "glossary", Glossary.from_dict, Glossary(movie_id))

    def load_global(self) -> Glossary:
        return self.load(GLOBAL_ID)

    def for_job(self, movie_id: str | None) -> Glossary:
        """What a job applies: the film's entries over the global ones (user entries over
        learned ones); ``None`` (GLOSSARY_PER_MOVIE_ENABLED=false, or no film id) gives the
        global glossary alone."""
        if movie_id is None:
            return self.load_global()
        return self.load(movie_id).merged_with(self.load_global())

    def save(self, glossary: Glossary) -> None:
        with exclusive(self._lock):
            self._write(glossary)

    def add(self, movie_id: str, entry: GlossaryEntry) -> Glossary:
        """Store a user entry (replacing the same term, learned or not); returns the glossary."""
        with exclusive(self._lock):
            glossary = self.load(movie_id).with_entry(dataclasses.replace(entry, source="user"))
            self._write(glossary)
        return glossary

    def learn(
        self, movie_id: str, transcript: Transcript, policy: GlossaryPolicy | None = None
    ) -> LearnReport:
        """Count a transcript's names and cultural terms into the film's glossary and, when the
        policy says so, its confident ones into the global glossary. A transcript already
        counted by a glossary is not counted again there."""
        policy = policy or GlossaryPolicy()
        movie_id = check_movie_id(movie_id)
        if movie_id == GLOBAL_ID:
            raise GlossaryError(f"{GLOBAL_ID!r} is the global glossary, not a film id")
        if not policy.learning_enabled or not (policy.per_movie_enabled or policy.update_global):
            return LearnReport(movie_id)
        source = transcript_digest(transcript)
        with exclusive(self._lock):
            film, world = self.load(movie_id), self.load_global()
            film_due = policy.per_movie_enabled and source not in film.learned_from
            world_due = policy.update_global and source not in world.learned_from
            if not (film_due or world_due):
                return LearnReport(movie_id, already_counted=True)
            known = [e.term for e in film.merged_with(world).entries if e.type == "character_name"]
            found: list[GlossaryEntry] = []
            if policy.extract_names:
                found += extract_character_names(transcript, policy, known)
            if policy.extract_cultural:
                found += extract_cultural_terms(transcript, policy)
            confident = [e for e in found if e.confidence >= policy.global_min_confidence]
            into_film = absorb(film, found, source)
            into_world = absorb(world, confident, source)
            if film_due and found:
                self._write(into_film.glossary)
            if world_due and confident:
                self._write(into_world.glossary)
        return LearnReport(
            movie_id,
            added=into_film.added if film_due else (),
            updated=into_film.updated if film_due else (),
            kept_user=into_film.kept_user if film_due else (),
            global_terms=(into_world.added + into_world.updated) if world_due else (),
        )

    def cast_path(self, movie_id: str) -> Path:
        return self.path(movie_id).parent / "speakers.json"

    def cast(self, movie_id: str) -> Cast:
        """A film's cast; empty before its first diarized job."""
        movie_id = check_movie_id(movie_id)
        return _read(self.cast_path(movie_id), "speakers", Cast.from_dict, Cast(movie_id))

    def recognise(self, movie_id: str, diarization: Diarization, audio_hash: str) -> dict[str, str]:
        """What the film calls each of a job's speakers (see ``Cast.recognise``); voices it
        has not heard join its cast."""
        with exclusive(self._lock):
            cast = self.cast(movie_id)
            known, names = cast.recognise(diarization, audio_hash)
            if known != cast:
                self._write_cast(known)
        return names

    def name_speaker(self, movie_id: str, label: str, name: str) -> Cast:
        """Name a speaker of the film's cast; the film's glossary entry for that name (a user
        character name, added if missing) lists the speaker's label."""
        movie_id = check_movie_id(movie_id)
        if movie_id == GLOBAL_ID:
            raise GlossaryError(f"{GLOBAL_ID!r} has no speakers: name them in a film")
        with exclusive(self._lock):
            cast = self.cast(movie_id).named(label, name)
            member = cast.member(label)
            assert member.name is not None
            glossary = self.load(movie_id)
            entries = tuple(
                dataclasses.replace(e, speakers=tuple(s for s in e.speakers if s != member.label))
                for e in glossary.entries
            )
            glossary = dataclasses.replace(glossary, entries=entries)
            entry = glossary.get(member.name) or GlossaryEntry(member.name, "character_name")
            # A user's naming is a fact: the learned hints of whom the name was said to go.
            named = entry.speakers if entry.source == "user" else ()
            entry = dataclasses.replace(entry, source="user", speakers=(*named, member.label))
            self._write(glossary.with_entry(entry))
            self._write_cast(cast)
        return cast

    @unless_disk_full("a film's speakers")
    def _write_cast(self, cast: Cast) -> None:
        write_verified(self.cast_path(cast.movie_id), cast.to_dict())

    def export(self, movie_id: str, path: Path) -> Glossary:
        """Write a film's glossary as plain, editable JSON (atomically)."""
        movie_id = check_movie_id(movie_id)
        if not self.path(movie_id).exists():
            raise GlossaryError(f"no glossary for {movie_id!r} in {self.root}")
        glossary = self.load(movie_id)
        data = (json.dumps(glossary.to_dict(), ensure_ascii=False, indent=2) + "\n").encode()
        try:
            write_bytes(Path(path).absolute(), data)
        except OSError as exc:
            raise GlossaryError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return glossary

    def import_file(self, path: Path) -> Glossary:
        """Validate a whole exported file (or a stored one), then merge it into the store: its
        entries win over stored ones, except that a stored user entry beats an imported
        learned one. Returns the file's glossary; on any error the store is untouched."""
        imported = _read_import(Path(path))
        with exclusive(self._lock):
            stored = self.load(imported.movie_id)
            merged = imported.merged_with(stored)
            sources = tuple(dict.fromkeys((*stored.learned_from, *imported.learned_from)))
            self._write(dataclasses.replace(merged, learned_from=sources[-MAX_LEARNED_FROM:]))
        return imported

    def movies(self) -> list[str]:
        """Film ids with a glossary (not GLOBAL_ID)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.parent.name
            for p in self.root.glob("*/learned_glossary.json")
            if p.parent.name != GLOBAL_ID and MOVIE_ID.fullmatch(p.parent.name)
        )

    @unless_disk_full("a learned glossary")
    def _write(self, glossary: Glossary) -> None:
        document = glossary.to_dict() | {"updated_at": datetime.now(UTC).isoformat()}
        write_verified(self.path(glossary.movie_id), document)


_Filed = TypeVar("_Filed", Glossary, Cast)


def _read(path: Path, what: str, parse: Callable[[object], _Filed], empty: _Filed) -> _Filed:
    """A film's stored ``what``, checked whole; ``empty`` where there is none yet."""
    try:
        document, _ = read_verified(path)
    except FileNotFoundError:
        return empty
    except PayloadError as exc:
        raise PayloadError(f"{what} {path}: {exc}") from exc
    try:
        found = parse(document)
    except GlossaryError as exc:
        raise PayloadError(f"{what} {path}: {exc}") from exc
    if found.movie_id != empty.movie_id:
        raise PayloadError(f"{what} {path}: it belongs to {found.movie_id!r}")
    return found


def _read_import(path: Path) -> Glossary:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GlossaryError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        if raw.startswith(b"#cpwx-payload"):
            document: object = decode(raw)[0]
        else:
            document = json.loads(raw.decode("utf-8"))
    except (PayloadError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GlossaryError(f"{path}: not a valid glossary file ({reason})") from None
    try:
        return Glossary.from_dict(document)
    except GlossaryError as exc:
        raise GlossaryError(f"{path}: {exc}") from None
