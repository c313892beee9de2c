"""Layers 4 and 5 measured: memory lookups against translate-toolkit, consistency on a re-cut,
and name spelling on a second job of the same film.

    .venv/bin/python benchmarks/tm.py [--full] [--lines 400] [--json]

* lookup: ``benchmarks/tm_lookup.py`` (ours and tmdb on the same entries and queries).
* consistency: a script is translated through the real translation stage, then a re-cut of it
  with 10% of its lines edited; how many unchanged lines come from the memory, identically.
* glossary: two jobs of one film with simulated ASR misspellings of its names; spelling
  accuracy of the second job's transcript before and after the glossary stage.

The translation model is a tiny random-weight Marian built here (no hub); it makes the model's
share of the time realistic in shape, not in size, and its confidences are low, so
TM_MIN_CONFIDENCE is 0 for this run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from jobs import JobRequest, prepare
from pipeline import JobState, glossary, load_settings, translation
from records import Segment, Transcript, Word
from testkit import tiny_marian

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "demo.mp4"
SUBJECTS = ["I", "You", "We", "They", "My brother", "Your mother", "The doctor", "Nobody"]
VERBS = ["saw", "called", "waited for", "remember", "forgot", "need", "lost", "found"]
OBJECTS = [
    "the train", "the letter", "your father", "the old house", "the key", "the money",
    "the wedding photos", "the last bus", "the village school", "the river road",
]  # fmt: skip
ENDINGS = ["", " yesterday", " again", " last night", " at the station", " after the rain"]
EXTRA = ["really", "never", "always", "finally", "quietly", "still"]


def script(rng: random.Random, n: int) -> list[str]:
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
        f"{rng.choice(ENDINGS)}{rng.choice('.?!')}"
        for _ in range(n)
    ]


def edit(rng: random.Random, line: str) -> str:
    words = line.split()
    if rng.random() < 0.5:
        words.insert(rng.randrange(1, len(words)), rng.choice(EXTRA))
    else:
        i = rng.randrange(len(words))
        words[i] = rng.choice(OBJECTS[rng.randrange(len(OBJECTS))].split())
    return " ".join(words)


def transcript(lines: list[str], scores: list[list[float]] | None = None) -> Transcript:
    """Segments two seconds apart; with word scores when given (as WhisperX reports them)."""
    return Transcript(
        "en",
        tuple(
            Segment(
                2.0 * i,
                2.0 * i + 1.8,
                text,
                words=tuple(Word(w, score=s) for w, s in zip(text.split(), scores[i], strict=True))
                if scores
                else (),
            )
            for i, text in enumerate(lines)
        ),
    )


def plan_for(cache: Path, model: Path, movie: str) -> Any:
    settings = load_settings(
        cache_dir=cache,
        translation_model=str(model),
        tm_min_confidence=0.0,
        translation_max_length=32,
    )
    request = JobRequest(media=SAMPLE, workflow="translate", target_language="hi", movie_id=movie)
    return prepare(request, settings)


def consistency(work: Path, n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    first = script(rng, n)
    edited = set(rng.sample(range(n), n // 10))
    second = [edit(rng, line) if i in edited else line for i, line in enumerate(first)]
    torch.manual_seed(seed)  # random weights: the same ones each run, so times compare
    model = tiny_marian(work / "marian", first + second)
    cache = work / "cache-consistency"
    runs = []
    for lines in (first, second):
        plan = plan_for(cache, model, "recut")
        start = time.perf_counter()
        state = translation.STAGE.run(
            plan, JobState(audio_hash="0" * 64, transcript=transcript(lines))
        )
        runs.append((time.perf_counter() - start, state.translation, state.reports["translation"]))
    (t1, out1, _), (t2, out2, rep2) = runs
    assert out1 is not None and out2 is not None and rep2.memory is not None
    unchanged = [i for i in range(n) if i not in edited]
    served = set(rep2.memory.reused_segments)
    from_memory = [i for i in unchanged if i in served]
    identical = [i for i in from_memory if out1.segments[i].text == out2.segments[i].text]
    return {
        "lines": n,
        "edited": len(edited),
        "unchanged": len(unchanged),
        "unchanged_from_memory": len(from_memory),
        "unchanged_identical": len(identical),
        "edited_from_memory": len(served & edited),
        "first_seconds": round(t1, 3),
        "recut_seconds": round(t2, 3),
        "memory": rep2.memory.to_json() | {"reused_segments": len(served)},
    }


NAMES = {
    "Aditi": ["Aditee", "Adithi"],
    "Jai": ["Jay", "Jaai"],
    "Rathore": ["Rathor", "Rathaur"],
    "Meghna": ["Megna", "Meghana"],
    "Bablu": ["Bablo", "Bubloo"],
}
LINES = [
    "{n}, where are you going?", "Did you see {n} today?", "I told {n} everything.",
    "{n} is waiting outside.", "Call {n} before the train leaves.", "Nobody believes {n}.",
]  # fmt: skip


def asr_job(
    rng: random.Random, n: int, noise: float
) -> tuple[list[str], list[str], list[list[float]]]:
    """Lines as a noisy ASR hears them: (heard lines, the name each line should hold, scores)."""
    heard, truth, scores = [], [], []
    for _ in range(n):
        name = rng.choice(list(NAMES))
        wrong = rng.random() < noise
        spoken = rng.choice(NAMES[name]) if wrong else name
        line = rng.choice(LINES).format(n=spoken)
        heard.append(line)
        truth.append(name)
        scores.append(
            [
                rng.uniform(0.45, 0.7)
                if w.strip(",.?") == spoken and wrong
                else rng.uniform(0.8, 0.99)
                for w in line.split()
            ]
        )
    return heard, truth, scores


def spelled_right(t: Transcript, truth: list[str]) -> float:
    """Share of lines whose name is spelled as the reference list spells it."""
    hits = sum(
        name in re.findall(r"\w+", seg.text) for seg, name in zip(t.segments, truth, strict=True)
    )
    return hits / len(truth)


def glossary_gain(work: Path, n: int, seed: int, noise: float) -> dict[str, Any]:
    rng = random.Random(seed + 1)
    cache = work / "cache-glossary"
    model = work / "marian"
    rows = []
    for job in (1, 2):
        heard, truth, scores = asr_job(rng, n, noise)
        raw = transcript(heard, scores)
        plan = plan_for(cache, model, "jaane_tu_ya_jaane_na")
        state = glossary.STAGE.run(plan, JobState(audio_hash=f"{job:064x}", transcript=raw))
        fixed, report = state.transcript, state.reports["glossary"]
        assert fixed is not None
        rows.append(
            {
                "job": job,
                "before": round(spelled_right(raw, truth), 4),
                "after": round(spelled_right(fixed, truth), 4),
                "glossary_cache": report.cache,
                "why": report.reason,
            }
        )
    return {"lines": n, "noise": noise, "jobs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="lookup at 1M entries too")
    parser.add_argument("--lines", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--noise", type=float, default=0.3, help="share of names misheard")
    parser.add_argument("--skip-lookup", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_API_URL", "")
    with tempfile.TemporaryDirectory(prefix="cpwx-bench-tm-") as tmp:
        work = Path(tmp)
        result = {
            "consistency": consistency(work, args.lines, args.seed),
            "glossary": glossary_gain(work, args.lines, args.seed, args.noise),
        }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_tables(result)
    if not args.skip_lookup:
        import tm_lookup

        tm_lookup.main(["--full"] if args.full else [])


def print_tables(result: dict[str, Any]) -> None:
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}\n"
    )
    c = result["consistency"]
    print("| consistency (re-cut, 10% of lines edited) | value |\n|---|---:|")
    print(f"| lines / edited / unchanged | {c['lines']} / {c['edited']} / {c['unchanged']} |")
    share = c["unchanged_from_memory"] / c["unchanged"]
    same = c["unchanged_identical"] / max(1, c["unchanged_from_memory"])
    print(f"| unchanged lines from memory | {c['unchanged_from_memory']} ({share:.1%}) |")
    print(f"| ... with identical output | {c['unchanged_identical']} ({same:.1%}) |")
    print(f"| edited lines reused (fuzzy >= 0.90) | {c['edited_from_memory']} |")
    print(f"| job hit rate (re-cut) | {c['memory']['hit_rate']:.1%} |")
    ratio = c["recut_seconds"] / c["first_seconds"]
    print(
        f"| translation stage s: first / re-cut | {c['first_seconds']:.2f} / "
        f"{c['recut_seconds']:.2f} ({ratio:.2f}x) |\n"
    )
    g = result["glossary"]
    print(
        f"| glossary: names spelled right ({g['lines']} lines, {g['noise']:.0%} misheard) "
        "| before | after | glossary |\n|---|---:|---:|---|"
    )
    for row in g["jobs"]:
        print(
            f"| job {row['job']} of the film | {row['before']:.1%} | {row['after']:.1%} "
            f"| {row['glossary_cache']}: {row['why']} |"
        )
    print()


if __name__ == "__main__":
    main()
