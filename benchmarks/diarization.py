"""Diarization: error against a reference, speakers found, and seconds per hour of audio.

    .venv/bin/python benchmarks/diarization.py [--json]

Clips: pyannote.audio's own real phone call (``sample.wav``, two speakers, its ``sample.rttm``)
and a conversation built from real recordings of four people (Debian's LibriVox reading, the
two people of pyannote's call, codec2-examples' VE9QRP), in turns of 2-6 s with 0.3 s between
them, whose reference is known by construction. Each is diarized as a job does (speakers found
by the clustering) and with the number of speakers given (``--speakers``); the error is
pyannote.metrics' diarization error rate, no collar (missed speech, false alarm and confusion
over the reference's speech).
"""

from __future__ import annotations

import argparse
import json
import platform
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
from testkit import pyannote_sample

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


def _error(reference: Annotation, turns: tuple, duration: float) -> float:
    hyp = Annotation()
    for t in turns:
        hyp[Segment(t.start, t.end)] = t.speaker
    metric = DiarizationErrorRate()
    return float(metric(reference, hyp, uem=Segment(0, duration)))


def measure(name: str, wav: Path, reference: Annotation, speakers: int) -> dict[str, object]:
    model = diarization_model()
    assert model is not None, "no diarization weights: run scripts/setup.sh"
    settings = DiarizationSettings(model, "cpu")
    duration = len(read_wav(wav)) / RATE
    Diarizer(settings).diarize(wav)  # loaded once, as a worker would be
    started = time.perf_counter()
    found = Diarizer(settings).diarize(wav)
    seconds = time.perf_counter() - started
    given = Diarizer(replace(settings, speakers=speakers)).diarize(wav)
    return {
        "clip": name,
        "speakers": speakers,
        "found": len(found.speakers),
        "DER": round(_error(reference, found.turns, duration), 3),
        "DER, count given": round(_error(reference, given.turns, duration), 3),
        "seconds": round(seconds, 1),
        "CPU min per hour of audio": round(seconds / duration * 60, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-diarization-"))
    sample = pyannote_sample()
    phone = demux(sample / "sample.wav", work / "sample.16k.wav")
    wav, reference, speakers = conversation(work)
    call = load_rttm(str(sample / "sample.rttm"))["sample"]
    rows = [
        measure("pyannote sample: phone call (real)", phone, call, 2),
        measure("4 real voices taking turns", wav, reference, speakers),
    ]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"machine: {platform.machine()}, {platform.node()}; CPU")
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for r in rows:
        print("| " + " | ".join(str(v) for v in r.values()) + " |")


if __name__ == "__main__":
    main()
