"""Layer 5's glossary files, and the film ids that name them.

Files follow the spec's layout, one file per glossary rather than one per term type, so a single
atomic rename updates a film: ``{root}/{movie_id}/learned_glossary.json`` and
``{root}/global/global_glossary.json``. Both are self-verifying payloads (``_payloads``): a
damaged file is a ``PayloadError``, never a half-read glossary. Every read-modify-write holds one
store-wide flock, so two jobs learning at once lose no counts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from ._disk import unless_disk_full
from ._glossary import (
    _MOVIE_ID,
    Glossary,
    GlossaryEntry,
    GlossaryError,
    GlossaryPolicy,
    check_movie_id,
)
from ._glossary_terms import (
    MAX_LEARNED_FROM,
    LearnReport,
    _absorb,
    extract_character_names,
    extract_cultural_terms,
    transcript_digest,
)
from ._locks import exclusive
from ._payloads import PayloadError, decode, read_verified, write_bytes, write_verified
from ._records import Transcript

__all__ = ["GLOBAL_ID", "GlossaryStore", "movie_id_from_path"]

GLOBAL_ID = "global"


# --------------------------------------------------------------------------------------------
# Film ids

_MEDIA_SUFFIX = re.compile(r"\.(?=[a-z0-9]*[a-z])[a-z0-9]{2,4}$", re.IGNORECASE)
_LEADING_TAG = re.compile(r"^\s*\[[^\]]*\]")
_CHANNELS = re.compile(r"(?<![a-z0-9])(?:ddp?|aac|ac3|dts|eac3)?[257]\.[01](?![0-9])")
_JOINED = re.compile(r"\b(web|blu|hd|dvd|br|bd)[ ._-]?(dl|rip|ray|tv|cam|scr)\b")
_YEAR = re.compile(r"(?:19|20)\d\d")
# Tokens that never belong to a title: resolution, codec, source, audio, scene tags.
_RELEASE = re.compile(
    r"\d{3,4}[pi]|[48]k|uhd|[xh]26[45]|hevc|xvid|divx|\d+bit|"
    r"bluray|bdrip|brrip|bdremux|remux|webdl|webrip|hdrip|dvdrip|dvdscr|hdtv|hdcam|hdts|"
    r"hdr|hdr10|amzn|aac\d*|ac3|eac3|dts|ddp?\d+|atmos|truehd|esubs?|proper|repack"
)
_EDITIONS = tuple(
    tuple(phrase.split())
    for phrase in (
        "director s cut",
        "directors cut",
        "director cut",
        "extended cut",
        "extended edition",
        "extended version",
        "theatrical cut",
        "theatrical version",
        "special edition",
        "collectors edition",
        "anniversary edition",
        "imax edition",
        "tv edit",
        "tv version",
        "uncut",
        "extended",
        "unrated",
        "remastered",
        "theatrical",
        "imax",
    )
)


def movie_id_from_path(path: Path) -> str:
    """A film id from a file name, stable across releases of one film: lower case, release
    noise (resolution, codec, source, what follows the year) and edition words dropped, the
    year dropped, non-alphanumerics as "_". Names with no Latin letters or digits fall back to
    a short hash of the name."""
    name = _MEDIA_SUFFIX.sub("", path.name).lower()
    name = _JOINED.sub(r"\1\2", _CHANNELS.sub(" ", _LEADING_TAG.sub(" ", name)))
    tokens = re.findall(r"[a-z0-9]+", name)
    for i, token in enumerate(tokens):
        if i > 0 and _RELEASE.fullmatch(token):
            tokens = tokens[:i]  # scene names put the title first, then only noise
            break
    years = [i for i, t in enumerate(tokens) if i > 0 and _YEAR.fullmatch(t)]
    if years:
        tokens = tokens[: years[-1]]  # "2012 (2009)" keeps 2012; what follows a year is noise
    stripped = True
    while stripped:
        stripped = False
        for phrase in _EDITIONS:
            if len(tokens) > len(phrase) and tuple(tokens[-len(phrase) :]) == phrase:
                del tokens[-len(phrase) :]
                stripped = True
                break
    movie_id = "_".join(tokens)[:128].strip("_")
    if not movie_id:
        movie_id = "film_" + hashlib.sha256(path.name.encode("utf-8")).hexdigest()[:12]
    return check_movie_id(movie_id)


# --------------------------------------------------------------------------------------------
# The store


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
        path = self.path(movie_id)
        try:
            document, _ = read_verified(path)
        except FileNotFoundError:
            return Glossary(movie_id)
        except PayloadError as exc:
            raise PayloadError(f"glossary {path}: {exc}") from exc
        try:
            glossary = Glossary.from_dict(document)
        except GlossaryError as exc:
            raise PayloadError(f"glossary {path}: {exc}") from exc
        if glossary.movie_id != movie_id:
            raise PayloadError(f"glossary {path}: it belongs to {glossary.movie_id!r}")
        return glossary

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
            into_film = _absorb(film, found, source)
            into_world = _absorb(world, confident, source)
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
            if p.parent.name != GLOBAL_ID and _MOVIE_ID.fullmatch(p.parent.name)
        )

    @unless_disk_full("a learned glossary")
    def _write(self, glossary: Glossary) -> None:
        document = glossary.to_dict() | {"updated_at": datetime.now(UTC).isoformat()}
        write_verified(self.path(glossary.movie_id), document)


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
