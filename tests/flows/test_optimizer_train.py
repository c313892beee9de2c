"""The optimizer-train flow, run for real on Prefect's ephemeral server, and its schedule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from testkit import REPO

from ..jobs.test_learning import _seed_history


def test_the_flow_retrains_and_is_scheduled_weekly(cli_env: dict[str, str]) -> None:
    _seed_history(Path(cli_env["CACHE_DIR"]))
    code = "from flows.optimizer_train import optimizer_train; print(optimizer_train()['samples'])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **cli_env},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "14"
    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    weekly = next(d for d in deployments if d["entrypoint"].endswith(":optimizer_train"))
    assert weekly["schedules"] == [{"cron": "0 4 * * 0"}]
