"""Prefect deployments of prefect.yaml on this machine: a server on loopback, the ``cpu`` and
``gpu`` work pools, the deployments, and a worker per pool. ``cpwx serve`` runs them all; the
pieces also run alone: ``python -m deployments.pools``, ``python -m deployments.workers``."""

from ._service import Service, healthy, run_until_stopped, stop_on_signals
from .pools import POOLS, create_pools, gpu_count
from .stack import REPO, Stack, deploy, running_stack, start_api, start_server
from .workers import start_workers

__all__ = [
    "POOLS",
    "REPO",
    "Service",
    "Stack",
    "create_pools",
    "deploy",
    "gpu_count",
    "healthy",
    "run_until_stopped",
    "running_stack",
    "start_api",
    "start_server",
    "start_workers",
    "stop_on_signals",
]
