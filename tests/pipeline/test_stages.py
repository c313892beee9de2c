"""The stage list is the one place a stage is named. A throwaway stage written as one module and
added to ``pipeline.STAGES`` in one line becomes a Prefect task (Cached on a re-run), a cache
entry under a layer of its own that the store's fast path serves and ``cpwx cache`` knows, and a
report in the job's JSON: no other file changes."""

from __future__ import annotations

from pathlib import Path

import pipeline
import tasks
from testkit import run_cli

from ..cli.test_run import _task_states

# The one module: a stage with its own cache entry (the transcript's word count).
WORDCOUNT = '''
"""A throwaway stage: the transcript's word count, kept under a layer of its own."""

import time

from cache_store import CacheKey
from pipeline import Stage, StageReport


def key(plan, state):
    if state.audio_hash is None:
        return None
    return CacheKey.build("wordcount", code_version="wc-1", audio_hash=state.audio_hash)


def run(plan, state):
    started = time.perf_counter()
    found = plan.cache.store.get(key(plan, state))
    if not found.hit:
        plan.cache.store.put(found.key, {"words": len(state.transcript.text.split())})
    return state.done("wordcount", StageReport.of(found, started))


STAGE = Stage("wordcount", "cpu", run, key=key, layer="wordcount")
'''
# The one line, run in every process of the job before it starts.
ONE_LINE = "import pipeline, wordcount; pipeline.STAGES = (*pipeline.STAGES, wordcount.STAGE)\n"


def test_a_stage_added_in_one_module_and_one_line_runs_everywhere(
    media_copy: Path, tmp_path: Path, cli_env: dict[str, str], prefect_server: str
) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "wordcount.py").write_text(WORDCOUNT)
    (plugin / "sitecustomize.py").write_text(ONE_LINE)
    env = {**cli_env, "PYTHONPATH": str(plugin)}
    served = {**env, "PREFECT_API_URL": prefect_server}

    first = run_cli("run", str(media_copy), "--json", env=served)
    assert first.code == 0, first.stderr
    assert list(first.json["stages"])[-1] == "wordcount"
    assert first.json["stages"]["wordcount"]["cache"] == "miss"
    assert _task_states(prefect_server, first.json["job_id"])["wordcount"] == "Completed"

    again = run_cli("run", str(media_copy), "--json", env=served)
    assert again.code == 0, again.stderr
    assert again.json["stages"]["wordcount"]["cache"] == "hit"
    assert _task_states(prefect_server, again.json["job_id"])["wordcount"] == "Cached"

    fast = run_cli("run", str(media_copy), "--json", env=env)  # no server: the store serves all
    assert fast.code == 0, fast.stderr
    assert fast.json["orchestration"] == "store-fast-path"
    assert fast.json["stages"]["wordcount"]["cache"] == "hit"

    layers = {
        layer["layer"]: layer
        for layer in run_cli("cache", "stats", "--json", env=env).json["layers"]
    }
    assert layers["wordcount"]["entries"] == 1 and layers["wordcount"]["hits"] == 2
    cleared = run_cli("cache", "clear", "wordcount", "--yes", env=env)
    assert cleared.code == 0 and "cleared wordcount: 1" in cleared.stdout
    without = run_cli("cache", "stats", "--json", env={**cli_env})  # the plugin unloaded
    assert without.code == 0, without.stderr


def test_what_follows_from_the_list() -> None:
    names = [stage.name for stage in pipeline.STAGES]
    assert names == [
        "demux",
        "fingerprint",
        "asr",
        "words",
        "diarization",
        "glossary",
        "translation",
        "subtitles",
    ]
    gpu = {s.name for s in pipeline.STAGES if s.pool == "gpu"}
    assert gpu == {"asr", "words", "diarization", "translation"}
    assert [tasks.task_for(stage).name for stage in pipeline.STAGES] == names
    assert len({tasks.task_for(stage).task_key for stage in pipeline.STAGES}) == len(names)
