"""`cpwx submit` and GPU_STAGES when there is nothing to submit to: one line, nothing queued.
(The real deployments are tested in tests/deployments.)"""

from __future__ import annotations

from pathlib import Path

from testkit import run_cli, tree_state


def test_submit_without_a_server_says_how_to_start_one(
    media_copy: Path, cli_env: dict[str, str]
) -> None:
    out = run_cli("submit", str(media_copy), env=cli_env)
    assert out.code == 1
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .startswith("cpwx: error: no Prefect server to submit to: start one with `cpwx serve`")
    )
    assert "Traceback" not in out.stderr


def test_submit_refuses_bad_media_before_queueing(tmp_path: Path, cli_env: dict[str, str]) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a film")
    before = tree_state(Path(cli_env["CACHE_DIR"]))
    out = run_cli("submit", str(bad), "--json", env=cli_env)
    assert out.code == 1 and out.stdout == ""
    assert "Traceback" not in out.stderr
    assert "notes.mp4" in out.stderr.strip().splitlines()[-1]
    assert tree_state(Path(cli_env["CACHE_DIR"])) == before


def test_gpu_pool_stages_need_a_server(media_copy: Path, cli_env: dict[str, str]) -> None:
    out = run_cli("run", str(media_copy), env={**cli_env, "GPU_STAGES": "gpu-pool"})
    assert out.code == 1
    assert "GPU_STAGES=gpu-pool needs a Prefect server" in out.stderr.strip().splitlines()[-1]


def test_an_unknown_gpu_stages_value_names_the_setting(
    media_copy: Path, cli_env: dict[str, str]
) -> None:
    out = run_cli("run", str(media_copy), env={**cli_env, "GPU_STAGES": "tpu"})
    assert out.code == 1
    assert "GPU_STAGES" in out.stderr.strip().splitlines()[-1]
