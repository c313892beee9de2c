"""Word timing is its own stage: its own entry beside the transcript's, so another aligner (or
a cleared words layer) times the words again while the transcript stays a hit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from engines.align import CrossAttentionAligner, Wav2Vec2Aligner, word_aligner
from jobs import JobRequest, prepare
from pipeline import JobState, load_settings, words
from pipeline.asr import asr_key
from testkit import run_cli


def test_another_aligner_is_another_words_entry_on_the_same_transcript(
    media_copy: Path, tmp_path: Path
) -> None:
    settings = load_settings(env_file=tmp_path / "none.env", cache_dir=tmp_path / "cache")
    plan = prepare(JobRequest(media=media_copy, source_language="en"), settings)
    state = JobState(audio_hash="a" * 64, asr=plan.asr)
    assert isinstance(word_aligner(plan.asr), CrossAttentionAligner)
    wav2vec2 = dataclasses.replace(plan.asr, align_model=plan.asr.model)  # any resolved folder
    assert isinstance(word_aligner(wav2vec2), Wav2Vec2Aligner)
    other = dataclasses.replace(state, asr=wav2vec2)
    assert asr_key(other) == asr_key(state)  # the transcript does not depend on the aligner
    first, second = words.key(plan, state), words.key(plan, other)
    assert first is not None and second is not None and first.digest != second.digest


def test_a_cleared_words_layer_times_again_and_the_transcript_stays_a_hit(
    media_copy: Path, cli_env: dict[str, str]
) -> None:
    first = run_cli("run", str(media_copy), "--json", env=cli_env)
    assert first.code == 0, first.stderr
    timed = json.loads(Path(first.json["outputs"]["json"]).read_text())
    cleared = run_cli("cache", "clear", "words", "--yes", env=cli_env)
    assert cleared.code == 0 and "cleared words: 1" in cleared.stdout, cleared.stdout
    again = run_cli("run", str(media_copy), "--json", env=cli_env)
    assert again.code == 0, again.stderr
    stages = {name: s["cache"] for name, s in again.json["stages"].items()}
    assert stages["asr"] == "hit" and stages["words"] == "miss"
    assert json.loads(Path(again.json["outputs"]["json"]).read_text()) == timed
