"""Diarization: error against a reference, speakers found, and seconds per hour of audio.

    .venv/bin/python benchmarks/diarization.py [--json]

Clips: pyannote.audio's own real phone call (``sample.wav``, two speakers, its ``sample.rttm``)
and a conversation built from real recordings of four people (Debian's LibriVox reading, the
two people of pyannote's call, codec2-examples' VE9QRP), in turns of 2-6 s with 0.3 s between
them, whose reference is known by construction. Each is diarized as a job does (speakers found
by the clustering) and with the number of speakers given (``--speakers``); the error is
pyannote.metrics' diarization error rate, no collar (missed speech, false alarm and confusion
over the reference's speech).

Two more tables: **speakers named once** (each speaker of a first job is named after the
reference voice it overlaps most, as a user would; then the share of each voice's speech time
the next job shows under its name: a re-cut of the conversation, and a next episode built from
the other half of what the same four people said, so it shares voices and no line) and
**cues** (the real CLI subtitles each clip with diarization on: cues whose words a second
reference speaker says, other than as a dashed dialogue pair; words where the reference has two
people talking at once are not counted).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from pyannote.core import Annotation, Segment
from pyannote.database.util import load_rttm
from pyannote.metrics.diarization import DiarizationErrorRate
from word_timing import RATE, read_wav, write_wav

from engines.diarize import DiarizationSettings, Diarizer
from engines.media import demux
from engines.models import diarization_model
from glossary import Cast
from records import Diarization
from testkit import pyannote_sample, run_cli

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CODEC2 = Path("/usr/share/codec2/wav")


def _decoded(path: Path, work: Path) -> np.ndarray:
    return read_wav(demux(path, work / f"{path.stem}.16k.wav"))


def _reference(turns: list[tuple[float, float, str]]) -> Annotation:
    ref = Annotation()
    for start, end, who in turns:
        ref[Segment(start, end)] = who
    return ref


def _alone(audio: np.ndarray, rttm: Annotation, speaker: str) -> np.ndarray:
    """One speaker's turns of a recording, end to end, where no one else speaks."""
    others = rttm.subset([speaker], invert=True).get_timeline().support()
    own = rttm.label_timeline(speaker).support().extrude(others)
    return np.concatenate([audio[int(s.start * RATE) : int(s.end * RATE)] for s in own])


def conversation(
    work: Path, seed: int = 3, half: int | None = None
) -> tuple[Path, Annotation, int]:
    """Four real voices taking turns (the LibriVox reader, the two people of pyannote's call,
    codec2's VE9QRP): each turn 2-6 s of the next unused stretch of one speaker's recording,
    a different speaker each time, until they have said all they have. ``half`` (0 or 1):
    only that half of what each has said, so two episodes share voices and no line."""
    sample = pyannote_sample()
    call = _decoded(sample / "sample.wav", work)
    rttm = load_rttm(str(sample / "sample.rttm"))["sample"]
    voices = {
        "reader": np.concatenate([_decoded(f, work) for f in sorted(LIBRIVOX.glob("*.wav"))]),
        **{f"call {who}": _alone(call, rttm, who) for who in rttm.labels()},
        "ve9qrp": _decoded(CODEC2 / "ve9qrp.wav", work),
    }
    if half is not None:
        voices = {k: np.array_split(v, 2)[half] for k, v in voices.items()}
    rng = np.random.default_rng(seed)
    used = dict.fromkeys(voices, 0)
    pieces, turns, at, last = [], [], 0.0, ""
    gap = np.zeros(int(0.3 * RATE), np.float32)
    while len([v for v in voices if v != last]) > 0:
        who = str(rng.choice([v for v in voices if v != last]))
        length = int(rng.uniform(2, 6) * RATE)
        audio = voices[who][used[who] : used[who] + length]
        if len(audio) < length:  # this voice has said all it has
            del voices[who]
            continue
        used[who] += length
        pieces += [audio, gap]
        turns.append((at, at + length / RATE, who))
        at += length / RATE + 0.3
        last = who
    wav = write_wav(
        work / f"conversation{'' if half is None else half}.wav", np.concatenate(pieces)
    )
    return wav, _reference(turns), len(used)


def _hypothesis(found: Diarization) -> Annotation:
    hyp = Annotation()
    for t in found.turns:
        hyp[Segment(t.start, t.end)] = t.speaker
    return hyp


def _error(reference: Annotation, found: Diarization, duration: float) -> float:
    metric = DiarizationErrorRate()
    return float(metric(reference, _hypothesis(found), uem=Segment(0, duration)))


def _settings() -> DiarizationSettings:
    model = diarization_model()
    assert model is not None, "no diarization weights: run scripts/setup.sh"
    return DiarizationSettings(model, "cpu")


def measure(name: str, wav: Path, reference: Annotation, speakers: int) -> dict[str, object]:
    settings = _settings()
    duration = len(read_wav(wav)) / RATE
    Diarizer(settings).diarize(wav)  # loaded once, as a worker would be
    started, cpu = time.perf_counter(), time.process_time()
    found = Diarizer(settings).diarize(wav)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    given = Diarizer(replace(settings, speakers=speakers)).diarize(wav)
    return {
        "clip": name,
        "speakers": speakers,
        "found": len(found.speakers),
        "DER": round(_error(reference, found, duration), 3),
        "DER, count given": round(_error(reference, given, duration), 3),
        "seconds": round(seconds, 1),
        "CPU min per hour of audio": round(cpu / duration * 60, 1),
    }


def _most(reference: Annotation, start: float, end: float) -> str | None:
    """The reference speaker who talks most between ``start`` and ``end``."""
    talk = reference.crop(Segment(start, end)).chart()
    return str(talk[0][0]) if talk else None


def recognition(
    case: str, first_job: tuple[Path, Annotation], next_job: tuple[Path, Annotation]
) -> list[dict[str, object]]:
    """Name the first job's speakers after the reference voice each overlaps most (as a user
    would), then the share of each voice's speech in the next job shown under its name."""
    (wav, reference), (next_wav, next_reference) = first_job, next_job
    first = Diarizer(_settings()).diarize(wav)
    cast, names = Cast("bench").recognise(first, "first job")
    for label, shown in names.items():
        speech = _hypothesis(first).label_timeline(label)
        overlap = {
            who: reference.label_timeline(who).crop(speech).duration() for who in reference.labels()
        }
        cast = cast.named(shown, max(overlap, key=overlap.__getitem__))
    second = Diarizer(_settings()).diarize(next_wav)
    _, names = cast.recognise(second, "next job")
    shown = _hypothesis(second.renamed(names))
    # The most any naming could show: each of the next job's speakers named after the voice it
    # overlaps most (what diarization's own errors leave).
    found = _hypothesis(second)
    best: dict[str, float] = {}
    for label in found.labels():
        speech = found.label_timeline(label)
        overlap = {
            w: next_reference.label_timeline(w).crop(speech).duration()
            for w in next_reference.labels()
        }
        voice = max(overlap, key=overlap.__getitem__)
        best[voice] = best.get(voice, 0.0) + overlap[voice]
    rows = []
    for who in sorted(next_reference.labels()):
        own = next_reference.label_timeline(who)
        right = shown.label_timeline(who).crop(own).duration() if who in shown.labels() else 0.0
        rows.append(
            {
                "case": case,
                "voice": who,
                "speech in the next job (s)": round(own.duration(), 1),
                "shown under its name": f"{right / own.duration():.0%}",
                "the most diarization allows": f"{best.get(who, 0.0) / own.duration():.0%}",
            }
        )
    return rows


def recut(wav: Path, reference: Annotation, drop: float) -> tuple[Path, Annotation]:
    """``wav`` without its first ``drop`` seconds, re-encoded as MP3, and its reference."""
    out = wav.with_suffix(".recut.mp3")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", str(drop), "-i", str(wav), str(out)],
        check=True,
    )
    moved = Annotation()
    for seg, _, who in reference.itertracks(yield_label=True):
        if seg.end > drop:
            moved[Segment(max(seg.start - drop, 0.0), seg.end - drop)] = who
    return demux(out, wav.with_suffix(".recut.16k.wav")), moved


def cue_speakers(name: str, wav: Path, reference: Annotation, work: Path) -> dict[str, object]:
    """Subtitle ``wav`` through the real CLI (diarization on); count cues whose words two
    reference speakers say, and the dashed pairs."""
    env = {
        "CACHE_DIR": str(work / f"cache-{wav.stem}"),
        "ENABLE_DIARIZATION": "true",
        "CPWX_CONFIG": str(work / "no.env"),
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_API_URL": "",
        "LOCAL_PREFECT_SERVER": "",
    }
    job = run_cli(
        "run",
        str(wav),
        "--formats",
        "srt,json",
        "--out",
        str(work / wav.stem),
        "--json",
        env=env,
    )
    assert job.code == 0, job.stderr
    said = json.loads(Path(job.json["outputs"]["json"]).read_text(encoding="utf-8"))
    words = [w for s in said["segments"] for w in s["words"] if "start" in w]
    blocks = Path(job.json["outputs"]["srt"]).read_text(encoding="utf-8").strip().split("\n\n")
    # A word where the reference has two people talking at once belongs to both: not counted.
    alone = reference.extrude(reference.get_overlap())
    mixed = pairs = 0
    for block in blocks:
        lines = block.splitlines()
        a, b = (_srt_seconds(t) for t in lines[1].split(" --> "))
        text = lines[2:]
        if len(text) == 2 and all(line.startswith("- ") for line in text):
            pairs += 1
            continue
        inside = [w for w in words if a <= (w["start"] + w["end"]) / 2 <= b]
        who = {_most(alone, w["start"], w["end"]) for w in inside} - {None}
        mixed += len(who) > 1
    return {
        "clip": name,
        "cues": len(blocks),
        "dialogue pairs": pairs,
        "cues holding two speakers": mixed,
        "share": f"{mixed / max(len(blocks), 1):.1%}",
    }


def _srt_seconds(stamp: str) -> float:
    h, m, s, ms = (int(x) for x in re.split(r"[:,]", stamp.strip()))
    return h * 3600 + m * 60 + s + ms / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-diarization-"))
    sample = pyannote_sample()
    phone = demux(sample / "sample.wav", work / "sample.16k.wav")
    wav, reference, speakers = conversation(work)
    call = load_rttm(str(sample / "sample.rttm"))["sample"]
    tables = {
        "diarization": [
            measure("pyannote sample: phone call (real)", phone, call, 2),
            measure("4 real voices taking turns", wav, reference, speakers),
        ],
        "speakers named once": [
            *recognition(
                "re-cut (first 5 s dropped, MP3)", (wav, reference), recut(wav, reference, 5.0)
            ),
            *recognition(
                "next episode (new lines, same voices)",
                conversation(work, seed=3, half=0)[:2],
                conversation(work, seed=4, half=1)[:2],
            ),
        ],
        "cues": [
            cue_speakers("pyannote sample: phone call (real)", phone, call, work),
            cue_speakers("4 real voices taking turns", wav, reference, work),
        ],
    }
    if args.json:
        print(json.dumps(tables))
        return
    print(f"machine: {platform.machine()}, {platform.node()}; CPU")
    for title, rows in tables.items():
        print(f"\n{title}\n")
        print("| " + " | ".join(rows[0]) + " |")
        print("|" + "---|" * len(rows[0]))
        for r in rows:
            print("| " + " | ".join(str(v) for v in r.values()) + " |")


if __name__ == "__main__":
    main()
