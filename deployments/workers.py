"""Start a Prefect process worker on each pool, against PREFECT_API_URL, and keep them until
Ctrl-C: ``python -m deployments.workers [--gpu-stages gpu-pool|in-process]``."""

from __future__ import annotations

import argparse
import functools
import os
from pathlib import Path

from prefect.client.orchestration import get_client

from ._service import PREFECT, Service, run_until_stopped, spawn, stop_on_signals
from .pools import POOLS

__all__ = ["start_workers"]


def _online(pool: str) -> bool:
    with get_client(sync_client=True) as client:
        return any(w.status == "ONLINE" for w in client.read_workers_for_work_pool(pool))


def start_workers(api_url: str, logs: Path, gpu_stages: str, timeout: float = 120) -> list[Service]:
    """One worker per pool, each polling every 2 s (the default 10 s would add seconds to
    every hand-off); returned once each shows online. ``gpu_stages`` is the GPU_STAGES the
    cpu pool's job runs get."""
    base = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_WORKER_QUERY_SECONDS": "2"}
    workers = [
        spawn(
            f"{pool} worker",
            [
                PREFECT,
                "worker",
                "start",
                "--pool",
                pool,
                "--type",
                "process",
                "--name",
                f"cpwx-{pool}-{os.getpid()}",
            ],
            {**base, "GPU_STAGES": gpu_stages} if pool == "cpu" else base,
            logs / f"worker-{pool}.log",
        )
        for pool in POOLS
    ]
    try:
        for pool, worker in zip(POOLS, workers, strict=True):
            worker.wait_until(functools.partial(_online, pool), timeout)
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gpu-stages", choices=("gpu-pool", "in-process"), default="gpu-pool")
    parser.add_argument("--logs", type=Path, default=Path("logs"))
    args = parser.parse_args()
    stop_on_signals()
    from prefect.settings import PREFECT_API_URL

    workers = start_workers(str(PREFECT_API_URL.value()), args.logs, args.gpu_stages)
    print(f"workers on {', '.join(POOLS)}; logs in {args.logs}; Ctrl-C stops them", flush=True)
    print(run_until_stopped(workers))


if __name__ == "__main__":
    main()
