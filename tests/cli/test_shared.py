"""The shared team cache end to end: two hosts (own cache dirs and HOMEs) through ``cpwx run``,
on moto_server's S3 API and Debian PostgreSQL, and an outage in the middle of a job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from testkit import (
    CPWX,
    S3_ENV,
    SPOKEN,
    free_port,
    marian_env,
    moto_s3,
    postgres,
    run_cli,
    speak,
    team_env,
)


def _host(name: str, tmp_path: Path, shared_env: dict[str, str], server: str) -> dict[str, str]:
    home = tmp_path / name
    home.mkdir(exist_ok=True)
    return {
        **shared_env,
        "HOME": str(home),
        "CACHE_DIR": str(home / "cache"),
        "CPWX_CONFIG": str(home / "no-such.env"),
        "PREFECT_API_URL": server,
        "LOCAL_PREFECT_SERVER": "",
        "CPWX_TEST_CWD": str(home),
    }


def _caches(result: dict[str, object]) -> dict[str, str]:
    stages = result["stages"]
    assert isinstance(stages, dict)
    return {name: stage["cache"] for name, stage in stages.items()}


def test_host_b_gets_a_full_hit_on_media_host_a_processed(
    media_copy: Path, tmp_path: Path, shared_env: dict[str, str], prefect_server: str
) -> None:
    translate = marian_env(tmp_path / "marian-en-hi")
    a = {**_host("a", tmp_path, shared_env, prefect_server), **translate}
    b = {**_host("b", tmp_path, shared_env, prefect_server), **translate}
    args = ("--workflow", "subtitle", "--target-language", "hi", "--json")

    first = run_cli("run", str(media_copy), *args, env=a)
    assert first.code == 0, first.stderr
    assert _caches(first.json)["asr"] == "miss"

    elsewhere = tmp_path / "b-media" / "same-film.mp4"  # host B's own copy of the file
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(media_copy.read_bytes())
    second = run_cli("run", str(elsewhere), *args, env=b)
    assert second.code == 0, second.stderr
    j = second.json
    caches = _caches(j)
    assert caches["fingerprint"] == caches["asr"] == caches["translation"] == "hit", caches
    assert caches["demux"] == "miss"  # host B still decodes its file to know its content
    assert j["translation_memory"]["hit_rate"] == 1.0
    assert j["saved_seconds"] > 0 and j["unshared"] == 0
    for fmt in ("srt", "json"):
        assert Path(j["outputs"][fmt]).read_text() == Path(first.json["outputs"][fmt]).read_text()
    # Backfilled: host B's own disk now holds the transcript.
    assert list((Path(b["CACHE_DIR"]) / "asr").rglob("*.json"))
    assert "from the shared cache" in Path(j["outputs"]["log"]).read_text()


def _wait_for_row(url: str, layer: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(url, connect_timeout=2) as con:
                found = con.execute(
                    "SELECT count(*) FROM cpwx_cache_index WHERE cache_type = %s", (layer,)
                ).fetchone()
            if found and found[0]:
                return
        except psycopg.Error:
            pass  # the job has not created the tables yet
        time.sleep(0.05)
    raise AssertionError(f"no {layer} entry reached the shared index")


def test_an_outage_mid_job_completes_locally_then_push_shares_it(
    tmp_path: Path, prefect_server: str
) -> None:
    media = speak(f"{SPOKEN} {SPOKEN}", tmp_path / "long.mp4")
    with postgres() as pg, moto_s3() as s3:
        shared = team_env(pg, s3)
        a = _host("a", tmp_path, shared, prefect_server)
        job = subprocess.Popen(
            [CPWX, "run", str(media), "--json"],
            env={**os.environ, **a},
            cwd=a["CPWX_TEST_CWD"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert s3.process is not None
        try:
            # The fingerprint is shared; while the transcript is computed, both services go.
            _wait_for_row(shared["CACHE_INDEX_URL"], "fingerprints", time.monotonic() + 300)
            pg.stop()
            os.kill(s3.process.pid, signal.SIGSTOP)  # hangs, as an unreachable network does
            stdout, stderr = job.communicate(timeout=600)
        finally:
            job.kill()
            os.kill(s3.process.pid, signal.SIGCONT)
        assert job.returncode == 0, stderr
        result = json.loads(stdout)
        assert _caches(result)["asr"] == "miss"
        assert result["unshared"] >= 1
        assert "cpwx: warning: the shared cache is unavailable" in stderr
        assert "not shared yet" in stderr
        assert "Traceback" not in stderr

        pg.start()
        pushed = run_cli("cache", "push", "--json", env=a)
        assert pushed.code == 0, pushed.stderr
        assert pushed.json["waiting"] == 0 and pushed.json["shared"] == result["unshared"]
        assert pushed.json["entries"] >= 2  # the fingerprint from before the outage, and more

        b = _host("b", tmp_path, shared, prefect_server)
        other = run_cli("run", str(media), "--json", env=b)
        assert other.code == 0, other.stderr
        caches = _caches(other.json)
        assert caches["fingerprint"] == caches["asr"] == "hit", caches


def test_shared_backend_settings_are_checked(media_copy: Path, cli_env: dict[str, str]) -> None:
    missing = run_cli("run", str(media_copy), env={**cli_env, "CACHE_BACKEND": "shared"})
    assert missing.code != 0
    assert missing.stderr.strip().splitlines() == [
        "cpwx: error: bad configuration value for CACHE_BACKEND: Value error, 'shared' needs "
        "CACHE_S3_BUCKET and CACHE_INDEX_URL (got 'shared')"
    ]
    no_push = run_cli("cache", "push", env=cli_env)
    assert no_push.code == 1 and "CACHE_BACKEND=shared" in no_push.stderr

    down = {
        **cli_env,
        "CACHE_BACKEND": "shared",
        "CACHE_S3_BUCKET": "cpwx",
        "CACHE_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "CACHE_INDEX_URL": f"postgresql://cpwx@127.0.0.1:{free_port()}/cpwx",
        "CACHE_SHARED_TIMEOUT_SECONDS": "1",
    }
    unreachable = run_cli("cache", "push", env=down)
    assert unreachable.code == 1
    assert unreachable.stderr.startswith("cpwx: error: the shared cache is unavailable: ")
    assert len(unreachable.stderr.strip().splitlines()) == 1


def test_s3_keys_from_a_prefect_secret_block(
    shared_env: dict[str, str], cli_env: dict[str, str], prefect_server: str
) -> None:
    keys = {"access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"]}
    keys["secret_access_key"] = S3_ENV["AWS_SECRET_ACCESS_KEY"]
    subprocess.run(
        [sys.executable, "-c", "import sys, json; from prefect.blocks.system import Secret; "
         "Secret(value=json.loads(sys.argv[1])).save('cpwx-s3-keys')", json.dumps(keys)],
        env={**os.environ, "PREFECT_API_URL": prefect_server},
        check=True,
    )  # fmt: skip
    env = {
        **cli_env,
        **{k: v for k, v in shared_env.items() if not k.startswith("AWS_")},
        "AWS_EC2_METADATA_DISABLED": "true",
        "PREFECT_API_URL": prefect_server,
        "CACHE_S3_CREDENTIALS_BLOCK": "cpwx-s3-keys",
    }
    pushed = run_cli("cache", "push", "--json", env=env)
    assert pushed.code == 0, pushed.stderr
    missing = run_cli("cache", "push", env={**env, "CACHE_S3_CREDENTIALS_BLOCK": "no-such-keys"})
    assert missing.code == 1
    assert missing.stderr.startswith("cpwx: error: CACHE_S3_CREDENTIALS_BLOCK: the Secret block")
    assert len(missing.stderr.strip().splitlines()) == 1
