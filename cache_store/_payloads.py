"""Payload files: atomic JSON writes, checksums verified on read, quarantine for damaged ones."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["PayloadError", "quarantine", "read_json_verified", "write_json_atomic"]


class PayloadError(Exception):
    """A payload is missing, unreadable, or does not match its recorded checksum."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, document: dict[str, Any]) -> tuple[str, int]:
    """Temp file, fsync, rename: readers see the old file or the whole new one, never a part."""
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return hashlib.sha256(data).hexdigest(), len(data)


def read_json_verified(path: Path, checksum: str) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PayloadError(f"payload unreadable: {exc.strerror or exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != checksum:
        raise PayloadError(f"checksum mismatch (expected {checksum[:8]}, found {actual[:8]})")
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise PayloadError(f"payload is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise PayloadError("payload is not a JSON object")
    return document


def quarantine(path: Path, quarantine_dir: Path, stamp: str) -> Path | None:
    """Move a damaged payload aside, so it is never served and can still be inspected."""
    if not path.exists():
        return None
    target = quarantine_dir / path.parent.name / f"{path.name}.{stamp}"
    target.parent.mkdir(parents=True, exist_ok=True)
    path.replace(target)
    return target
