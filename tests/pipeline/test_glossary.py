"""The glossary stage in a job: learn on a film's first job, correct names on its next one."""

from __future__ import annotations

from pathlib import Path

from cache_manager import CacheManager, stats
from jobs import JobRequest, prepare
from pipeline import JobPlan, JobState, StageReport, glossary, load_settings
from records import Segment, Transcript, Word

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "demo.mp4"
AUDIO = "a" * 64


def _plan(tmp_path: Path, **overrides: object) -> JobPlan:
    settings = load_settings(env_file=tmp_path / "none.env", cache_dir=tmp_path, **overrides)
    return prepare(JobRequest(SAMPLE, movie_id="Jaane_Tu"), settings)


def _run(plan: JobPlan, transcript: Transcript) -> tuple[Transcript | None, StageReport]:
    """The stage on a state holding ``transcript``: what it passes on, and its report."""
    done = glossary.STAGE.run(plan, JobState(audio_hash=AUDIO, transcript=transcript))
    return done.transcript, done.reports["glossary"]


def _transcript(name: str, n: int = 4, score: float = 0.95) -> Transcript:
    lines = [f"Where is {name} now?", f"I told {name} twice.", f"Ask {name} again."]
    return Transcript(
        "en",
        tuple(
            Segment(i, i + 1, text, words=tuple(Word(w, score=score) for w in text.split()))
            for i, text in enumerate(lines * n)
        ),
    )


def test_first_job_learns_and_the_next_corrects(tmp_path: Path) -> None:
    first, report = _run(_plan(tmp_path), _transcript("Aditi"))
    assert report.cache == "miss" and "no terms known for jaane_tu yet" in report.reason
    assert first == _transcript("Aditi")
    fixed, report = _run(_plan(tmp_path), _transcript("Aditee", n=1, score=0.5))
    assert report.cache == "hit" and "3 names corrected" in report.reason
    assert fixed is not None
    assert all("Aditi" in s.text and "Aditee" not in s.text for s in fixed.segments)
    layer = {s.layer: s for s in stats(CacheManager(tmp_path)).layers}["glossary"]
    assert (layer.hits, layer.misses, layer.entries) == (1, 1, 2)  # film + global glossary


def test_switches_turn_the_stage_off(tmp_path: Path) -> None:
    for switch in ("cache_glossary_learning", "glossary_learning_enabled"):
        out, report = _run(_plan(tmp_path, **{switch: False}), _transcript("Aditi"))
        assert report.cache == "off" and switch.upper() in report.reason
        assert out == _transcript("Aditi")
    assert not (tmp_path / "glossary_learned").exists()
