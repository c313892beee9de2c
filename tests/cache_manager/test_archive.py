from __future__ import annotations

import gzip
import io
import json
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cache_manager import CacheManager, export_archive, import_archive
from cache_store import SCHEMA_VERSION, ArchiveError
from testkit import tree_state

CONFIG = {"model": "tiny.en", "model_version": "v1", "language": "en"}
RESULT = {"segments": [{"start": 0.0, "end": 1.0, "text": "hello"}]}


def _exported(tmp_path: Path) -> tuple[Path, CacheManager]:
    source = CacheManager(tmp_path / "a")
    for c in "ab":
        source.set_asr_result(c * 64, CONFIG, RESULT, compute_seconds=3.0)
    archive = tmp_path / "cache.tar.gz"
    assert export_archive(source, archive) == 2
    return archive, source


def test_export_import_merges_into_a_non_empty_cache(tmp_path: Path) -> None:
    archive, _ = _exported(tmp_path)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert all(not n.startswith("/") and ".." not in n for n in names)
    target = CacheManager(tmp_path / "b")
    target.set_asr_result("c" * 64, CONFIG, RESULT)
    target.set_asr_result("a" * 64, CONFIG, RESULT)
    report = import_archive(target, archive)
    assert (report.imported, report.already_present) == (1, 1)
    for c in "abc":
        assert target.get_asr_result(c * 64, CONFIG) == RESULT
    assert target.store.get(target.asr_key("b" * 64, CONFIG)).saved_seconds == 3.0


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    return info


def _rebuilt(archive: Path, tmp_path: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    """Re-pack a good export after editing its members (name -> bytes)."""
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    edit(members)
    return _tar(tmp_path / "edited.tar.gz", [(_info(n), d) for n, d in members.items()])


def _manifest(members: dict[str, bytes]) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(members["manifest.json"])
    return parsed


HOSTILE: dict[str, Callable[[Path, Path], Path]] = {
    "absolute path": lambda _a, t: _tar(t / "x.tgz", [(_info("/etc/cpwx-owned"), b"x")]),
    "dot-dot": lambda _a, t: _tar(t / "x.tgz", [(_info("asr/../../escape.json"), b"x")]),
    "symlink": lambda _a, t: _tar(
        t / "x.tgz", [(_info("asr/aa/" + "a" * 64 + ".json", tarfile.SYMTYPE, "/etc/passwd"), None)]
    ),
    "hardlink": lambda _a, t: _tar(
        t / "x.tgz", [(_info("asr/aa/" + "a" * 64 + ".json", tarfile.LNKTYPE, "/etc/passwd"), None)]
    ),
    "device file": lambda _a, t: _tar(t / "x.tgz", [(_info("asr/dev", tarfile.CHRTYPE), None)]),
    "pickle payload": lambda a, t: _rebuilt(
        a,
        t,
        lambda m: m.update({n: pickle.dumps({"segments": []}) for n in m if n.startswith("asr/")}),
    ),
    "mismatched checksum": lambda a, t: _rebuilt(
        a,
        t,
        lambda m: m.update(
            {n: d.replace(b"hello", b"HELLO") for n, d in m.items() if n.startswith("asr/")}
        ),
    ),
    "one of two entries tampered": lambda a, t: _rebuilt(
        a,
        t,
        lambda m: m.update(
            {n: m[n].replace(b"hello", b"HELLO") for n in [k for k in sorted(m) if "asr/" in k][:1]}
        ),
    ),
    "newer schema": lambda a, t: _rebuilt(
        a,
        t,
        lambda m: m.update(
            {
                "manifest.json": json.dumps(
                    {**_manifest(m), "schema_version": SCHEMA_VERSION + 1}
                ).encode()
            }
        ),
    ),
    "not a tar": lambda _a, t: (t / "x.tgz").write_bytes(b"plain text") and t / "x.tgz",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused_with_nothing_written(tmp_path: Path, case: str) -> None:
    archive, _ = _exported(tmp_path)
    hostile = HOSTILE[case](archive, tmp_path)
    target = CacheManager(tmp_path / "b")
    target.set_asr_result("c" * 64, CONFIG, RESULT)
    before = tree_state(tmp_path / "b")
    with pytest.raises(ArchiveError, match="refused") as exc:
        import_archive(target, hostile)
    assert "\n" not in str(exc.value)
    assert tree_state(tmp_path / "b") == before
    assert not Path("/etc/cpwx-owned").exists() and not (tmp_path / "escape.json").exists()


class _Zeros(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        b[:] = bytes(len(b))
        return len(b)


def _zeros_archive(path: Path, sizes: list[int]) -> Path:
    with gzip.open(path, "wb", compresslevel=9) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for n, size in enumerate(sizes):
            name = f"{n:064x}"
            info = _info(f"asr/{name[:2]}/{name}.json")
            info.size = size
            tar.addfile(info, io.BufferedReader(_Zeros()))
    return path


@pytest.mark.parametrize(
    ("sizes", "message"),
    [([600 << 20], "bytes"), ([300 << 20, 300 << 20], "decompression bomb")],
    ids=["oversized member", "expansion ratio"],
)
def test_decompression_bombs_are_refused(tmp_path: Path, sizes: list[int], message: str) -> None:
    bomb = _zeros_archive(tmp_path / "bomb.tar.gz", sizes)
    assert bomb.stat().st_size < 2 << 20
    with pytest.raises(ArchiveError, match=message):
        import_archive(CacheManager(tmp_path / "b"), bomb)
    assert not (tmp_path / "b").exists()
