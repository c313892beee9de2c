"""The Prefect UI in a real browser (Debian chromium driven by playwright): launch a job from
the deployment's Custom run form, watch it finish, see the Cached badges and the cache report.
Screenshots go to CPWX_TEST_ARTIFACTS (default test-artifacts/ui/)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from playwright.sync_api import Page

from testkit import REPO, run_cli

from .conftest import Served

SHOTS = Path(os.environ.get("CPWX_TEST_ARTIFACTS", REPO / "test-artifacts")) / "ui"


def test_a_job_launched_from_the_custom_run_form(
    served: Served, page: Page, speech_mp4: Path, tmp_path: Path
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    # A first job on this media, so the one launched from the UI finds it in the cache.
    warm = run_cli("submit", str(speech_mp4), "--out", str(tmp_path / "warm"), env=served.env)
    assert warm.code == 0, warm.stderr
    deployment = served.get("/deployments/name/subtitle-job/cpu")
    runs = {"deployments": {"id": {"any_": [deployment["id"]]}}}
    before = {run["id"] for run in served.post("/flow_runs/filter", runs)}

    page.goto(f"{served.ui}/deployments/deployment/{deployment['id']}/run")
    page.get_by_text("Path to a video or audio file").wait_for(timeout=30_000)
    page.locator("textarea").first.fill(str(speech_mp4))
    page.screenshot(path=SHOTS / "1-custom-run-form.png", full_page=True)
    page.get_by_role("button", name="Submit").click()

    deadline = time.monotonic() + 60
    while not (new := {r["id"] for r in served.post("/flow_runs/filter", runs)} - before):
        assert time.monotonic() < deadline, "the form created no flow run"
        time.sleep(0.5)
    (run_id,) = new
    page.goto(f"{served.ui}/runs/flow-run/{run_id}")
    page.get_by_text("Completed", exact=True).first.wait_for(timeout=180_000)
    page.screenshot(path=SHOTS / "2-flow-run-completed.png", full_page=True)

    page.get_by_text("Task Runs", exact=True).click()
    page.get_by_text("Cached", exact=True).first.wait_for(timeout=30_000)
    assert page.get_by_text("Cached", exact=True).count() >= 3  # demux, fingerprint, asr
    page.screenshot(path=SHOTS / "3-task-runs-cached.png", full_page=True)

    page.get_by_text("Artifacts", exact=True).click()
    page.get_by_text("cache-report").first.click(timeout=30_000)
    page.get_by_text("Cache report:").first.wait_for(timeout=30_000)
    assert page.get_by_text("asr", exact=True).count() >= 1
    page.screenshot(path=SHOTS / "4-cache-report.png", full_page=True)
