"""Portable export and import: a tar.gz of payload files plus a manifest of their index rows.

Import trusts nothing in the archive. Every member must be a regular file named like a payload
(``<layer>/<64 hex>.json``) or the manifest, within size limits; every payload must match the
checksum in its own header and in the manifest; the manifest's schema must not be newer than
ours. All of it is checked in a staging folder outside the cache before anything is merged.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._index import SCHEMA_VERSION, IndexRow
from ._keys import Layer
from ._maintenance import row_from_document
from ._manager import CacheManager
from ._payloads import PayloadError, read_verified, stage
from ._records import AudioFingerprint
from ._similar import index_fingerprint
from ._tm import TmEntry
from ._tmx import TmxError, read_tmx, write_tmx

__all__ = ["ArchiveError", "ImportReport", "export_archive", "import_archive"]

FORMAT = "cpwx-cache-export"
MANIFEST = "manifest.json"
MEMORY = "translation_memory.tmx"  # layer 4's rows, which live in the index, travel as TMX
MAX_MEMBER_BYTES = 512 << 20
MAX_TOTAL_BYTES = 64 << 30
MAX_MEMBERS = 2_000_000
# A gzip stream rarely expands JSON more than ~20x; far beyond that is a decompression bomb.
MAX_EXPANSION = 200
_LAYERS = "|".join(Layer.ALL)
_NAME = re.compile(
    rf"^(?:{MANIFEST}|{MEMORY}|(?:{_LAYERS})/(?P<s>[0-9a-f]{{2}})/(?P=s)[0-9a-f]{{62}}\.json)$"
)


class ArchiveError(Exception):
    """An archive was refused; nothing was written to the cache."""


@dataclass(frozen=True)
class ImportReport:
    imported: int
    already_present: int
    memory: int = 0  # translation-memory entries merged


def export_archive(cache: CacheManager, target: Path, layers: tuple[str, ...] = Layer.ALL) -> int:
    """Write the entries of ``layers`` to ``target`` (tar.gz); returns how many."""
    with cache.session() as s:
        rows = s.rows("cache_type IN (SELECT unnest(?))", [list(layers)], "ORDER BY file_path")
    memory = cache.translations() if Layer.TRANSLATIONS in layers else []
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "rows": [
            {
                "cache_key": r.cache_key,
                "layer": r.cache_type,
                "file_path": r.file_path,
                "checksum": r.checksum,
                "access_count": r.access_count,
                "last_accessed": r.last_accessed.isoformat(),
            }
            for r in rows
        ],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="cpwx-export-") as tmp:
        tmx = Path(tmp) / MEMORY
        if memory:
            write_tmx(memory, tmx)
            manifest["memory"] = {"entries": len(memory), "sha256": _sha256(tmx)}
        body = json.dumps(manifest, separators=(",", ":")).encode()
        with tarfile.open(partial, "w:gz") as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), 0o644
            tar.addfile(info, io.BytesIO(body))
            if memory:
                tar.add(str(tmx), arcname=MEMORY, filter=_anonymous)
            _add_payloads(cache, tar, rows)
    partial.replace(target)
    return len(rows) + len(memory)


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    return info


def _add_payloads(cache: CacheManager, tar: tarfile.TarFile, rows: list[IndexRow]) -> None:
    for r in rows:
        path = cache.root / r.file_path
        with open(path, "rb") as fh:
            tar.addfile(_anonymous(tar.gettarinfo(str(path), arcname=r.file_path)), fh)


def _refuse(reason: str) -> ArchiveError:
    return ArchiveError(f"archive refused, nothing imported: {reason}")


def _unpack(archive: Path, staging: Path) -> None:
    """Copy every member into ``staging`` after checking it; raise on the first bad one."""
    budget = min(MAX_TOTAL_BYTES, max(archive.stat().st_size, 1 << 20) * MAX_EXPANSION)
    total = count = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                count += 1
                if count > MAX_MEMBERS:
                    raise _refuse("too many members")
                if not member.isreg():
                    kind = "link" if member.issym() or member.islnk() else "non-regular file"
                    raise _refuse(f"member {member.name!r} is a {kind}")
                if not _NAME.match(member.name):
                    raise _refuse(f"unexpected member name {member.name!r}")
                if member.size > MAX_MEMBER_BYTES:
                    raise _refuse(f"member {member.name!r} is {member.size} bytes")
                total += member.size
                if total > budget:
                    raise _refuse("expands far beyond its compressed size (decompression bomb?)")
                source = tar.extractfile(member)
                if source is None:
                    raise _refuse(f"member {member.name!r} has no data")
                target = staging / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as out:  # a duplicate name would overwrite: refuse it
                    shutil.copyfileobj(source, out, 1 << 20)
    except FileExistsError as exc:
        raise _refuse(f"duplicate member {Path(exc.filename).name!r}") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise _refuse(f"not a readable tar.gz ({exc})") from exc


def _verified_rows(staging: Path) -> list[tuple[IndexRow, Path]]:
    try:
        manifest = json.loads((staging / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise _refuse("no manifest.json") from exc
    except ValueError as exc:
        raise _refuse(f"manifest is not JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse("not a cpwx cache export")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise _refuse(f"schema version {version!r} is newer than this cpwx ({SCHEMA_VERSION})")
    listed: dict[str, dict[str, Any]] = {
        r["file_path"]: r
        for r in manifest.get("rows", [])
        if isinstance(r, dict) and isinstance(r.get("file_path"), str)
    }
    present = {str(p.relative_to(staging)) for p in staging.glob("*/*/*.json")}
    if set(listed) != present:
        raise _refuse("manifest and payload files disagree")
    out: list[tuple[IndexRow, Path]] = []
    for rel, entry in listed.items():
        path = staging / rel
        try:
            document, checksum = read_verified(path)
        except PayloadError as exc:
            raise _refuse(f"{rel}: {exc}") from exc
        if checksum != entry.get("checksum") or document.get("cache_key") != Path(rel).stem:
            raise _refuse(f"{rel}: checksum or key does not match the manifest")
        if document.get("layer") != Path(rel).parts[0]:
            raise _refuse(f"{rel}: payload is for another layer")
        try:
            row = row_from_document(document, checksum, path.stat().st_size, rel)
        except (KeyError, TypeError, ValueError) as exc:
            raise _refuse(f"{rel}: malformed payload ({exc})") from exc
        out.append((row, path))
    return out


def _verified_memory(staging: Path) -> list[TmEntry]:
    manifest = json.loads((staging / MANIFEST).read_text())
    listed, tmx = manifest.get("memory"), staging / MEMORY
    if listed is None and not tmx.exists():
        return []
    if not isinstance(listed, dict) or not tmx.exists() or _sha256(tmx) != listed.get("sha256"):
        raise _refuse(f"{MEMORY} and the manifest disagree")
    try:
        return read_tmx(tmx)
    except TmxError as exc:
        raise _refuse(str(exc).replace(str(tmx), MEMORY)) from exc


def import_archive(cache: CacheManager, archive: Path) -> ImportReport:
    """Merge an export into this cache; entries already here are kept as they are."""
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such file")
    with tempfile.TemporaryDirectory(prefix="cpwx-import-") as tmp:
        staging = Path(tmp)
        _unpack(archive, staging)
        verified = _verified_rows(staging)
        memory = _verified_memory(staging)
        with cache.session() as s:
            existing = {
                r[0]
                for r in s.con.execute(
                    "SELECT cache_key FROM cache_index WHERE cache_key IN (SELECT unnest(?))",
                    [[row.cache_key for row, _ in verified]],
                ).fetchall()
            }
        fresh = [(row, path) for row, path in verified if row.cache_key not in existing]
        staged = [
            stage(cache.root / row.file_path, path.read_bytes(), row.checksum)
            for row, path in fresh
        ]
        try:
            with cache.payload_lock(), cache.session() as s:
                for item in staged:
                    item.commit()
                s.upsert(row for row, _ in fresh)
                for row, path in fresh:
                    if row.cache_type == Layer.FINGERPRINTS:
                        fp = AudioFingerprint.from_dict(read_verified(path)[0]["data"])
                        index_fingerprint(s, fp)
        except BaseException:
            for item in staged:
                item.discard()
            raise
        merged = cache.import_translations(memory) if memory else 0
    return ImportReport(imported=len(fresh), already_present=len(existing), memory=merged)
