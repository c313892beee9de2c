"""Payload files: a checksum header line, then the JSON document.

The header (``#cpwx-payload 1 sha256=<hex of the body>``) makes every file self-verifying, so a
lookup reads one file and needs no index; any flipped byte, in the body or the header, fails the
check. Writes go to a temp file that is fsynced, then renamed into place by the caller.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PAYLOAD_VERSION",
    "PayloadError",
    "StagedPayload",
    "encode",
    "quarantine",
    "read_verified",
    "stage",
    "write_bytes",
    "write_verified",
]

PAYLOAD_VERSION = 1
_MAGIC = b"#cpwx-payload"


class PayloadError(Exception):
    """A payload is missing, unreadable, or does not match its checksum."""


def encode(document: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    checksum = hashlib.sha256(body).hexdigest()
    return b"%s %d sha256=%s\n" % (_MAGIC, PAYLOAD_VERSION, checksum.encode()) + body, checksum


def decode(raw: bytes) -> tuple[dict[str, Any], str]:
    """Verify and parse a payload's bytes; returns the document and its checksum."""
    header, sep, body = raw.partition(b"\n")
    parts = header.split(b" ")
    if not sep or len(parts) != 3 or parts[0] != _MAGIC or not parts[2].startswith(b"sha256="):
        raise PayloadError("not a cpwx payload (bad header)")
    if parts[1] != str(PAYLOAD_VERSION).encode():
        raise PayloadError(f"payload format {parts[1].decode(errors='replace')} is not supported")
    expected = parts[2][len(b"sha256=") :].decode("ascii", errors="replace")
    actual = hashlib.sha256(body).hexdigest()
    if actual != expected:
        raise PayloadError(f"checksum mismatch (expected {expected[:8]}, found {actual[:8]})")
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise PayloadError(f"payload is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise PayloadError("payload is not a JSON object")
    return document, actual


def read_verified(path: Path) -> tuple[dict[str, Any], str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise PayloadError(f"payload unreadable: {exc.strerror or exc}") from exc
    return decode(raw)


@dataclass(frozen=True)
class StagedPayload:
    """A fully written, fsynced temp file beside its final path, waiting to be renamed in."""

    temp: Path
    final: Path
    checksum: str
    size: int

    def commit(self) -> None:
        self.temp.replace(self.final)
        fd = os.open(self.final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def discard(self) -> None:
        self.temp.unlink(missing_ok=True)


def stage(final: Path, data: bytes, checksum: str) -> StagedPayload:
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return StagedPayload(Path(tmp), final, checksum, len(data))


def write_bytes(path: Path, data: bytes, checksum: str = "") -> None:
    """``data`` at ``path`` atomically: fsynced beside it, then renamed over it."""
    staged = stage(path, data, checksum)
    try:
        staged.commit()
    except BaseException:
        staged.discard()
        raise


def write_verified(path: Path, document: dict[str, Any]) -> None:
    """A small self-verifying document (glossaries, cut links, optimizer manifests)."""
    data, checksum = encode(document)
    write_bytes(path, data, checksum)


def quarantine(path: Path, folder: Path, stamp: str) -> Path | None:
    """Move a damaged payload aside, so it is never served and can still be inspected."""
    if not path.exists():
        return None
    target = folder / f"{path.name}.{stamp}"
    target.parent.mkdir(parents=True, exist_ok=True)
    path.replace(target)
    return target
