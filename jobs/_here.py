"""A job in this process, as ``cpwx run`` does it: served whole from the store when every stage
is there (Prefect never loads), else run as a flow on the plan already resolved, with WhisperX
loading while Prefect starts."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from engines.asr import WhisperxEngine
from optimizer import Prediction
from pipeline import JobPlan, JobState, Progress, Settings
from pipeline.asr import asr_key

from ._learning import estimate
from ._prefect import running_server
from ._prepare import prepare
from ._request import JobRequest
from ._result import JobResult
from ._runner import initial_state, serve_from_store

__all__ = ["FlowRunner", "run_here"]

# Runs a prepared job as the subtitle-job flow in this process: (request, plan, state, its
# estimate, the running server's API URL or None for Prefect's temporary one).
FlowRunner = Callable[[JobRequest, JobPlan, JobState, Prediction | None, str | None], JobResult]


def run_here(
    request: JobRequest,
    settings: Settings,
    run_flow: FlowRunner,
    progress: Progress | None = None,
    on_estimate: Callable[[Prediction], None] | None = None,
) -> JobResult:
    """Serve from the store when every stage hits; otherwise ``run_flow`` (on a running Prefect
    server when there is one), after ``on_estimate`` hears how long it should take."""
    plan = prepare(request, settings, progress)
    state = initial_state(plan, request.audio_hash)
    try:
        server = running_server(settings)
        if not server and settings.store_fast_path and plan.cache.store.enabled:
            served = serve_from_store(plan, state)
            if served is not None:
                return served
        plan.audio.choose()  # bad media or no such track fails here, before Prefect starts
        expected = estimate(plan, state)
        if expected is not None and on_estimate is not None:
            on_estimate(expected)
        cached = state.audio_hash is not None and plan.cache.store.contains(asr_key(state))
        preload = threading.Thread(target=WhisperxEngine(plan.asr).preload, daemon=True)
        if not cached:
            # Load WhisperX while Prefect starts up and the audio is decoded: the two overlap.
            preload.start()
        try:
            result = run_flow(request, plan, state, expected, server)
        finally:
            if preload.is_alive():
                # Exiting mid-load (e.g. truncated media found by demux) aborts in CTranslate2.
                preload.join()
    finally:
        plan.audio.close()
    return dataclasses.replace(
        result, orchestration="prefect-server" if server else "prefect-ephemeral"
    )
