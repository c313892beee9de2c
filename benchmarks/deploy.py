"""Jobs through the deployments against jobs run in-process, measured side by side in one run.

    .venv/bin/python benchmarks/deploy.py [--minutes 2] [--repeat 3]

One `cpwx serve`-like stack (server, pools, deployments, a worker per pool, GPU_STAGES=gpu-pool)
serves every row; each row is a separate CLI process timed from start to exit. Then the
latency from a trigger to the job's start, with warm workers.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from testkit import free_port, make_clip, timed

VENV = Path(sys.executable).parent


def trigger_latency(media: Path, out: Path, trials: int) -> list[float]:
    """Seconds from `run_deployment` to the flow run's start (its Running state)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    params = {"media": str(media), "out": str(out)}
    latencies = []
    with get_client(sync_client=True) as client:
        for _ in range(trials):
            asked = time.time()
            run = cast(FlowRun, run_deployment("subtitle-job/cpu", parameters=params, timeout=0))
            while True:
                state = client.read_flow_run(run.id)
                if state.start_time is not None:
                    break
                time.sleep(0.05)
            latencies.append(state.start_time.timestamp() - asked)
            while not cast(Any, client.read_flow_run(run.id).state).is_final():
                time.sleep(0.2)
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each row reports its median")
    ap.add_argument("--trials", type=int, default=5, help="trigger-latency samples")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-bench-deploy-"))
    clip = make_clip(Path("out/bench") / f"speech-{args.minutes:g}min.mp4", args.minutes)
    cache = work / "cache"
    os.environ.update(
        {
            "CPWX_CONFIG": str(work / "none.env"),
            "PREFECT_HOME": str(work / "prefect-home"),
            "CACHE_DIR": str(cache),
            "LOCAL_PREFECT_SERVER": "",
            "PREFECT_API_URL": "",
        }
    )
    from deployments import running_stack

    run = [str(VENV / "cpwx"), "run", str(clip), "--json", "--out", str(work / "out")]
    submit = [str(VENV / "cpwx"), "submit", str(clip), "--json", "--out", str(work / "out")]
    # (row, command, through the server?, from an empty cache?) in the order they run.
    plan = [
        ("first run: cpwx submit (cpu pool, ASR on the gpu pool)", submit, True, True),
        ("first run: cpwx run, in-process flow on the server", run, True, True),
        ("re-run: cpwx submit (deployment)", submit, True, False),
        ("re-run: cpwx run, in-process flow on the server", run, True, False),
        ("re-run: cpwx run, embedded (no server, store fast path)", run, False, False),
    ]
    walls: dict[str, list[float]] = {name: [] for name, *_ in plan}
    try:
        with running_stack(free_port(), work / "logs", gpu_slots=1) as stack:
            served = {**os.environ, "PREFECT_API_URL": stack.api_url}
            local = {**os.environ, "PREFECT_API_URL": ""}
            for round_ in range(args.repeat):
                for name, cmd, on_server, cold in plan:
                    if cold:
                        shutil.rmtree(cache, ignore_errors=True)
                    wall, _ = timed(cmd, served if on_server else local)
                    walls[name].append(wall)
                    print(f"  round {round_ + 1}: {name}: {wall:.2f} s", file=sys.stderr)
            latency = trigger_latency(clip, work / "out", args.trials)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    median = {name: statistics.median(w) for name, w in walls.items()}
    in_process = {"first": median[plan[1][0]], "re-run": median[plan[3][0]]}
    print(
        f"\nDeployments, {args.minutes:g} min clip, median of {args.repeat}, "
        f"{platform.machine()}, {os.cpu_count()} cores, tiny.en int8 CPU, "
        f"{datetime.now():%Y-%m-%d}\n"
    )
    print("| run | wall s (median) | vs in-process flow on the server |")
    print("|---|---:|---:|")
    for name, wall in median.items():
        base = in_process["first" if name.startswith("first") else "re-run"]
        print(f"| {name} | {wall:.2f} | {wall / base:.2f}x |")
    print(
        f"\nTrigger to job start, warm workers (PREFECT_WORKER_QUERY_SECONDS=2), "
        f"{args.trials} trials: median {statistics.median(latency):.2f} s, "
        f"min {min(latency):.2f} s, max {max(latency):.2f} s"
    )


if __name__ == "__main__":
    main()
