"""What a new cut of a film inherits from the stored cut it was found similar to.

On a cut's first job the similarity search decides which film it belongs to (whose glossary it
uses) and, when its ASR settings were left to the defaults, the settings the other cut was
transcribed with (so that cut's transcript can be reused). The decision is kept as one small
verified file per audio hash under ``{cache_dir}/cuts``, so every later job on the same audio
makes the same choices without searching again.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cache_store import PayloadError, read_verified, unless_disk_full, write_verified
from glossary import GlossaryError, check_movie_id

__all__ = ["CutLink", "CutLinks"]


@dataclass(frozen=True)
class CutLink:
    audio_hash: str
    movie_id: str  # the film whose glossary this audio uses
    source: str | None = None  # the similar cut it was linked through (None: its own job)
    similarity: float | None = None
    asr: Mapping[str, Any] | None = None  # ASR key parts adopted from ``source``

    def to_dict(self) -> dict[str, Any]:
        return {
            "audio_hash": self.audio_hash,
            "movie_id": self.movie_id,
            "source": self.source,
            "similarity": self.similarity,
            "asr": dict(self.asr) if self.asr is not None else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CutLink:
        asr = d.get("asr")
        return cls(
            str(d["audio_hash"]),
            check_movie_id(str(d["movie_id"])),
            d.get("source"),
            d.get("similarity"),
            dict(asr) if isinstance(asr, Mapping) else None,
        )


class CutLinks:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, audio_hash: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", audio_hash):
            raise ValueError(f"bad audio hash {audio_hash!r}")
        return self.root / audio_hash[:2] / f"{audio_hash}.json"

    def get(self, audio_hash: str) -> CutLink | None:
        """The recorded link, or None (never recorded, or a damaged file: decided afresh)."""
        try:
            document, _ = read_verified(self._path(audio_hash))
            link = CutLink.from_dict(document)
        except (FileNotFoundError, PayloadError, GlossaryError, KeyError, TypeError):
            return None
        return link if link.audio_hash == audio_hash else None

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    @unless_disk_full("the audio's cut link")
    def put(self, link: CutLink) -> None:
        """Atomically (a rename): two jobs recording the same audio leave one whole file."""
        check_movie_id(link.movie_id)
        write_verified(self._path(link.audio_hash), link.to_dict())
