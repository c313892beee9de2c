"""Portable export and import: a tar.gz of payload files plus a manifest of their index rows,
and any ``Extra`` members domain packages add (the translation memory travels as TMX).

Import trusts nothing in the archive. Every member must be a regular file named like a payload
(``<layer>/<64 hex>.json``), the manifest or a declared extra, within size limits; every payload
must match the checksum in its own header and in the manifest, as every extra must match the
manifest; the manifest's schema must not be newer than ours. All of it is checked in a staging
folder outside the cache before anything is merged.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._index import SCHEMA_VERSION, IndexRow, IndexSession, row_of
from ._payloads import PayloadError, read_verified, stage
from ._store import Store

__all__ = ["ArchiveError", "Extra", "ImportReport", "export_archive", "import_archive"]

FORMAT = "cpwx-cache-export"
MANIFEST = "manifest.json"
MAX_MEMBER_BYTES = 512 << 20
MAX_TOTAL_BYTES = 64 << 30
MAX_MEMBERS = 2_000_000
# A gzip stream rarely expands JSON more than ~20x; far beyond that is a decompression bomb.
MAX_EXPANSION = 200


class ArchiveError(Exception):
    """An archive was refused; nothing was written to the cache."""


@dataclass(frozen=True)
class Extra:
    """A member an archive carries beside the payloads: a domain package's data in its format.

    ``write`` puts the member at a path and returns its entries (0: left out of the archive);
    ``verify`` checks an unpacked member (raising ``ArchiveError`` with the reason) and returns
    how to merge it, which runs only once everything verified and returns the entries merged."""

    name: str  # its entry in the manifest and the import report
    member: str  # its file name in the archive
    layer: str  # exported with this layer
    write: Callable[[Path], int]
    verify: Callable[[Path], Callable[[], int]]


@dataclass(frozen=True)
class ImportReport:
    imported: int
    already_present: int
    extras: dict[str, int] = field(default_factory=dict)  # entries merged, by extra


# What a domain package indexes of the payloads an import brings, in the import's session.
OnImport = Callable[[IndexSession, Sequence[tuple[IndexRow, dict[str, Any]]]], None]


def export_archive(
    store: Store,
    target: Path,
    layers: Sequence[str] | None = None,
    extras: Sequence[Extra] = (),
) -> int:
    """Write the entries of ``layers`` (default: every layer) and their extras to ``target``
    (tar.gz); returns how many."""
    layers = store.layers if layers is None else layers
    with store.session() as s:
        rows = s.rows(list(layers))
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
    written = 0
    with tempfile.TemporaryDirectory(prefix="cpwx-export-") as tmp:
        members: list[tuple[str, Path]] = []
        for extra in extras:
            path = Path(tmp) / extra.member
            entries = extra.write(path) if extra.layer in layers else 0
            if entries:
                manifest[extra.name] = {"entries": entries, "sha256": _sha256(path)}
                members.append((extra.member, path))
                written += entries
        body = json.dumps(manifest, separators=(",", ":")).encode()
        with tarfile.open(partial, "w:gz") as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), 0o644
            tar.addfile(info, io.BytesIO(body))
            for member, path in members:
                tar.add(str(path), arcname=member, filter=_anonymous)
            _add_payloads(store, tar, rows)
    partial.replace(target)
    return len(rows) + written


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    return info


def _add_payloads(store: Store, tar: tarfile.TarFile, rows: list[IndexRow]) -> None:
    for r in rows:
        path = store.root / r.file_path
        with open(path, "rb") as fh:
            tar.addfile(_anonymous(tar.gettarinfo(str(path), arcname=r.file_path)), fh)


def _refuse(reason: str) -> ArchiveError:
    return ArchiveError(f"archive refused, nothing imported: {reason}")


def _unpack(store: Store, archive: Path, staging: Path, extras: Sequence[Extra]) -> None:
    """Copy every member into ``staging`` after checking it; raise on the first bad one."""
    names = "|".join(re.escape(m) for m in (MANIFEST, *(e.member for e in extras)))
    layers = "|".join(map(re.escape, store.layers))
    payload = rf"(?:{layers})/(?P<s>[0-9a-f]{{2}})/(?P=s)[0-9a-f]{{62}}\.json"
    allowed = re.compile(rf"^(?:{names}|{payload})$")
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
                if not allowed.match(member.name):
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


def _manifest(staging: Path) -> dict[str, Any]:
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
    return manifest


def _verified_rows(staging: Path) -> list[tuple[IndexRow, dict[str, Any], Path]]:
    listed: dict[str, dict[str, Any]] = {
        r["file_path"]: r
        for r in _manifest(staging).get("rows", [])
        if isinstance(r, dict) and isinstance(r.get("file_path"), str)
    }
    present = {str(p.relative_to(staging)) for p in staging.glob("*/*/*.json")}
    if set(listed) != present:
        raise _refuse("manifest and payload files disagree")
    return [_verified_row(staging, rel, entry) for rel, entry in listed.items()]


def _verified_row(
    staging: Path, rel: str, entry: dict[str, Any]
) -> tuple[IndexRow, dict[str, Any], Path]:
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
        return row_of(document, rel, path.stat().st_size, checksum), document, path
    except (KeyError, TypeError, ValueError) as exc:
        raise _refuse(f"{rel}: malformed payload ({exc})") from exc


def _verified_extra(staging: Path, extra: Extra) -> Callable[[], int] | None:
    """How to merge an extra member once all is verified; None when the archive has none."""
    manifest = json.loads((staging / MANIFEST).read_text())
    listed, path = manifest.get(extra.name), staging / extra.member
    if listed is None and not path.exists():
        return None
    if not isinstance(listed, dict) or not path.exists() or _sha256(path) != listed.get("sha256"):
        raise _refuse(f"{extra.member} and the manifest disagree")
    try:
        return extra.verify(path)
    except ArchiveError as exc:
        raise _refuse(str(exc).replace(str(path), extra.member)) from exc


def import_archive(
    store: Store,
    archive: Path,
    extras: Sequence[Extra] = (),
    on_import: OnImport | None = None,
) -> ImportReport:
    """Merge an export into this cache; entries already here are kept as they are."""
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such file")
    with tempfile.TemporaryDirectory(prefix="cpwx-import-") as tmp:
        staging = Path(tmp)
        _unpack(store, archive, staging, extras)
        verified = _verified_rows(staging)
        merges = {e.name: m for e in extras if (m := _verified_extra(staging, e)) is not None}
        with store.session() as s:
            existing = set(s.checksums([row.cache_key for row, _, _ in verified]))
        fresh = [(row, doc, path) for row, doc, path in verified if row.cache_key not in existing]
        staged = [
            stage(store.root / row.file_path, path.read_bytes(), row.checksum)
            for row, _, path in fresh
        ]
        try:
            with store.payload_lock(), store.session() as s:
                for item in staged:
                    item.commit()
                s.upsert(row for row, _, _ in fresh)
                if on_import is not None:
                    on_import(s, [(row, doc) for row, doc, _ in fresh])
        except BaseException:
            for item in staged:
                item.discard()
            raise
        merged = {name: merge() for name, merge in merges.items()}
    return ImportReport(imported=len(fresh), already_present=len(existing), extras=merged)
