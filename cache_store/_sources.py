"""The stat fast path (ccache's direct mode): a source file known by its (device, inode, size,
mtime) maps to its audio hash without reading a byte of it.

One small self-verifying file per source under ``{cache_dir}/sources``: any change to the file
(a copy, a touch, an edit) misses, and the job decodes and hashes it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._disk import unless_disk_full
from ._payloads import PayloadError, encode, read_verified, stage

__all__ = ["SourceStat", "Sources"]


@dataclass(frozen=True)
class SourceStat:
    """The identity a source file had when it was last decoded: any change means decode again."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    # Which of its audio tracks is meant ("" the one chosen by default; "a2" track 2; "hi" the
    # one tagged Hindi): each track of a file is its own audio.
    track: str = ""

    @classmethod
    def of(cls, path: Path, track: str = "") -> SourceStat:
        st = path.stat()
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, track)


class Sources:
    def __init__(self, root: Path, stamp: Callable[[], str]) -> None:
        self.root = root
        self._stamp = stamp

    def _file(self, stat: SourceStat) -> Path:
        track = f"-{stat.track}" if stat.track else ""
        return self.root / f"{stat.device}-{stat.inode}{track}.json"

    def audio_hash_for(self, stat: SourceStat) -> str | None:
        """The audio hash recorded for this exact file state, without reading any media."""
        try:
            document, _ = read_verified(self._file(stat))
        except (FileNotFoundError, PayloadError):
            return None
        if (document.get("size"), document.get("mtime_ns")) != (stat.size, stat.mtime_ns):
            return None
        value = document.get("audio_hash")
        return value if isinstance(value, str) else None

    @unless_disk_full("the source file's stat record")
    def record(self, path: Path, stat: SourceStat, audio_hash: str) -> None:
        raw, checksum = encode(
            {
                "source_path": str(path),
                "size": stat.size,
                "mtime_ns": stat.mtime_ns,
                "audio_hash": audio_hash,
                "recorded_at": self._stamp(),
            }
        )
        stage(self._file(stat), raw, checksum).commit()

    def forget(self, audio_hash: str) -> None:
        """Every source recorded as this audio (``invalidate``): the next job decodes it."""
        for source in self.root.glob("*.json"):
            try:
                document, _ = read_verified(source)
            except (OSError, PayloadError):
                continue
            if document.get("audio_hash") == audio_hash:
                source.unlink(missing_ok=True)
