"""``cpwx cache ...`` against real stores, and the cache-cleanup flow on a real Prefect server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import pytest

from cache_manager import CacheManager
from cache_store import SourceStat
from testkit import REPO, run_cli, tree_state

CONFIG = {"model": "tiny.en", "model_version": "v1", "language": "en", "beam_size": 5}
RESULT = {"segments": [{"start": 0.0, "end": 1.0, "text": "hello there"}]}


@pytest.fixture
def store(cli_env: dict[str, str]) -> CacheManager:
    cache = CacheManager(cli_env["CACHE_DIR"])
    cache.set_asr_result("a" * 64, CONFIG, RESULT, compute_seconds=90.0)
    cache.set_asr_result("b" * 64, CONFIG, RESULT, compute_seconds=30.0)
    cache.get_asr_result("a" * 64, CONFIG)  # hit, 90 s saved
    cache.get_asr_result("c" * 64, CONFIG)  # miss: new content
    cache.get_asr_result("a" * 64, {**CONFIG, "beam_size": 2})  # miss: config changed
    models = Path(cli_env["CACHE_DIR"]) / "models" / "whisperx" / "large-v3"
    models.mkdir(parents=True)
    (models / "model.bin").write_bytes(b"w" * 5000)
    return cache


@pytest.mark.usefixtures("store")
def test_stats_json_text_and_html(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "CACHE_COST_PER_GPU_MINUTE": "1.0", "CACHE_MAX_SIZE_GB": "2"}
    out = run_cli("cache", "stats", "--json", env=env)
    assert out.code == 0, out.stderr
    j = out.json
    asr = next(x for x in j["layers"] if x["layer"] == "asr")
    models = next(x for x in j["layers"] if x["layer"] == "models")
    assert (asr["entries"], asr["hits"], asr["misses"]) == (2, 1, 2)
    assert models == {**models, "entries": 1, "bytes": 5000}
    assert j["saved_seconds"] == 90.0 and j["cost_saved"] == 1.5
    assert j["max_bytes"] == 2 << 30
    assert j["miss_reasons"] == {"new content": 1, "config changed": 1}
    text = run_cli("cache", "stats", "--verbose", "--html", str(tmp_path / "r.html"), env=env)
    assert text.code == 0
    assert "Time Saved: 1.5 minutes" in text.stdout and "config changed" in text.stdout
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") == 2 and "Hit rate per layer" in page and "<polyline" in page


def test_clear_asks_then_keeps_models(store: CacheManager, cli_env: dict[str, str]) -> None:
    cache = Path(cli_env["CACHE_DIR"])
    before = tree_state(cache)
    refused = run_cli("cache", "clear", "asr", env=cli_env)  # stdin is not a terminal
    assert refused.code == 2 and "--yes" in refused.stderr
    assert tree_state(cache) == before
    assert run_cli("cache", "clear", "asr", "--yes", env=cli_env).stdout == "cleared asr: 2\n"
    assert store.get_asr_result("a" * 64, CONFIG) is None
    done = run_cli("cache", "clear", "all", "--keep-models", "--yes", env=cli_env)
    assert done.code == 0 and (cache / "models" / "whisperx" / "large-v3" / "model.bin").exists()
    bad = run_cli("cache", "clear", "everything", "--yes", env=cli_env)
    assert bad.code == 2 and "unknown layer" in bad.stderr


def test_cleanup_dry_run_ttl_and_cap(store: CacheManager, cli_env: dict[str, str]) -> None:
    dry = run_cli("cache", "cleanup", "--days", "0", "--dry-run", "--json", env=cli_env)
    assert dry.code == 0 and dry.json["expired"] == 2 and len(store.store.keys()) == 2
    capped = run_cli(
        "cache", "cleanup", "--json", env={**cli_env, "CACHE_MAX_SIZE_GB": str(6000 / (1 << 30))}
    )
    assert capped.json["evicted_for_size"] >= 1
    # The entry that saved 90 s of compute outlives the 30 s one of the same size.
    assert store.store.keys() == {store.asr_key("a" * 64, CONFIG).digest}
    assert (Path(cli_env["CACHE_DIR"]) / "models" / "whisperx" / "large-v3").exists()
    usage = run_cli("cache", "cleanup", "--by-usage", "--keep-top", "0", "--json", env=cli_env)
    assert usage.json["evicted_by_usage"] == 1 and store.store.keys() == set()


@pytest.mark.usefixtures("store")
def test_export_import_and_hostile_archive(cli_env: dict[str, str], tmp_path: Path) -> None:
    archive = tmp_path / "c.tar.gz"
    assert run_cli("cache", "export", str(archive), "--layer", "asr", env=cli_env).code == 0
    other = {**cli_env, "CACHE_DIR": str(tmp_path / "other")}
    first = run_cli("cache", "import", str(archive), env=other)
    assert first.stdout == "imported 2 entries (0 already present)\n"
    assert run_cli("cache", "import", str(archive), env=other).stdout.startswith(
        "imported 0 entries (2 already present)"
    )
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../../outside.json")
        info.size = 2
        import io

        tar.addfile(info, io.BytesIO(b"{}"))
    before = tree_state(tmp_path / "other")
    refused = run_cli("cache", "import", str(evil), env=other)
    assert refused.code == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "refused" in refused.stderr and "Traceback" not in refused.stderr
    assert tree_state(tmp_path / "other") == before and not (tmp_path / "outside.json").exists()


def test_validate_fix_rebuild_and_list(store: CacheManager, cli_env: dict[str, str]) -> None:
    payload = store.store.payload_path(store.asr_key("b" * 64, CONFIG))
    payload.write_bytes(payload.read_bytes().replace(b"hello", b"HELLO"))
    found = run_cli("cache", "validate", env=cli_env)
    assert found.code == 1 and "corrupted: asr/" in found.stdout
    assert run_cli("cache", "validate", "--fix", env=cli_env).code == 0
    assert run_cli("cache", "validate", "--json", env=cli_env).json["ok"] is True
    store.store.local.index.path.write_bytes(b"garbage")
    rebuilt = run_cli("cache", "rebuild-index", env=cli_env)
    assert rebuilt.code == 0 and "1 entries" in rebuilt.stdout
    largest = run_cli("cache", "list-largest", "--top", "2", "--json", env=cli_env).json
    assert largest[0] == {"layer": "models", "name": "whisperx/large-v3", "bytes": 5000}


def test_invalidate_by_media_and_by_hash(
    store: CacheManager, cli_env: dict[str, str], tmp_path: Path
) -> None:
    media = tmp_path / "film.mp4"
    media.write_bytes(b"not decoded: the stat fast path knows it")
    store.store.sources.record(media, SourceStat.of(media), "a" * 64)
    out = run_cli("cache", "invalidate", str(media), env=cli_env)
    assert out.code == 0 and "asr 1" in out.stdout
    assert store.get_asr_result("a" * 64, CONFIG) is None
    assert store.get_asr_result("b" * 64, CONFIG) is not None
    assert "asr 1" in run_cli("cache", "invalidate", "b" * 64, env=cli_env).stdout
    missing = run_cli("cache", "invalidate", str(tmp_path / "nope.mp4"), env=cli_env)
    assert missing.code == 1 and "no such file" in missing.stderr


def test_warmup_fills_fingerprint_and_asr(
    speech_mp4: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "film.mp4").write_bytes(speech_mp4.read_bytes())
    (folder / "notes.txt").write_text("not media")
    first = run_cli("cache", "warmup", str(folder), env=cli_env)
    assert first.code == 0, first.stderr
    assert first.stdout.strip() == "warmed 2 files: miss 1, skipped 1"
    again = run_cli("cache", "warmup", str(folder), env=cli_env)
    assert again.stdout.strip() == "warmed 2 files: hit 1, skipped 1"
    job = run_cli("run", str(folder / "film.mp4"), "--json", env=cli_env).json
    assert job["stages"]["asr"]["cache"] == "hit"


def _api(url: str, path: str, body: dict[str, object]) -> list[dict[str, object]]:
    req = urllib.request.Request(
        f"{url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        result: list[dict[str, object]] = json.load(r)
    return result


def test_job_and_cleanup_publish_artifacts(
    media_copy: Path, cli_env: dict[str, str], prefect_server: str
) -> None:
    env = {**cli_env, "PREFECT_API_URL": prefect_server}
    job = run_cli("run", str(media_copy), "--json", env=env)
    assert job.code == 0, job.stderr
    reports = _api(
        prefect_server,
        "/artifacts/filter",
        {"artifacts": {"flow_run_id": {"any_": [job.json["job_id"]]}}},
    )
    assert any(a["key"] == "cache-report" and "| asr | miss |" in str(a["data"]) for a in reports)
    flow = subprocess.run(
        [sys.executable, "-c", "from flows import cache_cleanup; cache_cleanup(days=0)"],
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert flow.returncode == 0, flow.stderr
    cleaned = _api(
        prefect_server, "/artifacts/filter", {"artifacts": {"key": {"any_": ["cache-cleanup"]}}}
    )
    # the job stored its fingerprint, its transcript and its timed words
    assert cleaned and "Removed 3 entries (3 expired" in str(cleaned[-1]["data"])
    with CacheManager(cli_env["CACHE_DIR"]).store.session() as s:
        assert s.snapshots() == 1


def test_damaged_index_gets_one_line_naming_the_fix(
    store: CacheManager, cli_env: dict[str, str]
) -> None:
    store.store.keys()  # journal applied: the index file exists
    store.store.local.index.path.write_bytes(b"\x00not a database" * 64)
    broken = run_cli("cache", "stats", env=cli_env)
    assert broken.code == 1 and len(broken.stderr.strip().splitlines()) == 1
    assert "cpwx cache rebuild-index" in broken.stderr and "Traceback" not in broken.stderr
    assert run_cli("cache", "rebuild-index", env=cli_env).code == 0
    assert run_cli("cache", "stats", "--json", env=cli_env).json["layers"][2]["entries"] == 2
