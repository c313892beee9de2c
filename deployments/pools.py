"""Create the work pools: ``cpu`` for the job and the scheduled flows, ``gpu`` for the GPU
stages with one concurrent run per GPU. ``python -m deployments.pools [--gpu-slots N]``
against PREFECT_API_URL."""

from __future__ import annotations

import argparse

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.workers.process import ProcessWorker

__all__ = ["POOLS", "create_pools", "gpu_count"]

POOLS = ("cpu", "gpu")


def gpu_count() -> int:
    """CUDA devices on this machine (CTranslate2's count: the engine WhisperX runs on)."""
    import ctranslate2

    return int(ctranslate2.get_cuda_device_count())


def create_pools(gpu_slots: int) -> None:
    """Create or update both process pools on the server at PREFECT_API_URL; ``gpu_slots``
    caps concurrent GPU-stage runs (one per GPU, at least one so a CPU-only host still runs
    them, on its CPU)."""
    template = ProcessWorker.get_default_base_job_template()
    with get_client(sync_client=True) as client:
        client.create_work_pool(
            WorkPoolCreate(
                name="cpu",
                type="process",
                base_job_template=template,
                description="Subtitle jobs, cache cleanup, optimizer training",
            ),
            overwrite=True,
        )
        client.create_work_pool(
            WorkPoolCreate(
                name="gpu",
                type="process",
                base_job_template=template,
                concurrency_limit=max(1, gpu_slots),
                description="GPU stages: ASR (WhisperX, pyannote) and translation models",
            ),
            overwrite=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gpu-slots", type=int, default=None, help="default: GPUs here, or 1")
    args = parser.parse_args()
    create_pools(args.gpu_slots if args.gpu_slots is not None else gpu_count())


if __name__ == "__main__":
    main()
