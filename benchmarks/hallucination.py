"""The hallucination filter on real speech with real music and near-silence: off against on.

    .venv/bin/python benchmarks/hallucination.py [--model DIR] [--music space] [--json]

Two speech sources, each at -20 dBFS: espeak-ng reading ``testkit.SPOKEN`` and a real human
recording, the five LibriVox sentences of Debian's pocketsphinx-testdata (0.6 s apart, with
their transcripts). For each source three clips go through the real ASR engine
(``WhisperxEngine``, tiny.en by default, the settings a job gets from ``jobs.prepare``):

* inserted: speech, 60 s of a Debian pushover-data music theme (``--music``) at -20 dBFS,
  30 s of near-silence (white noise at ``--hush`` dBFS, -65), the speech again;
* under -20 / under -10: the speech with a later part of the same music mixed 20 / 10 dB
  under it.

Filter off and on come from the same transcription: ``engines.asr.drop_hallucinations`` is
wrapped for the run, so the segments going into it (off) and those it keeps (on) are both
recorded; nothing in engines/ changes. Each segment, and each cue ``cues.build_cues`` makes of
the transcript once its words are timed (``engines.align``, as the words stage does;
``--profile``), belongs to a speech stretch it overlaps by 0.5 s or more (a VAD
chunk may run on past the speech into the music), else to the stretch it overlaps most. Per
stretch, off / on: segments, cues, words, the longest run of one line repeated (consecutive segments
whose normalised text is the same; 1 = no repeat) and the WER of the speech stretches against
what was said (``testkit.wer``; both speech copies of an inserted clip together).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import re
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import numpy.typing as npt
from word_timing import RATE, asr_settings, write_wav

import engines.asr
from cues import Cue, build_cues, profile_for
from engines.align import WordAligner, word_aligner
from engines.asr import WhisperxEngine
from engines.hallucination import Dropped, drop_hallucinations
from records import Segment, Transcript
from testkit import SPOKEN, speak, wer

THEMES = Path("/usr/share/pushover/themes")  # Debian's pushover-data
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")  # Debian's pocketsphinx-testdata
SPEECH_DBFS = -20.0

Float = npt.NDArray[np.float32]


def decode(path: Path) -> Float:
    """Any file ffmpeg reads, as 16 kHz mono float."""
    pcm = ("-f", "s16le", "-ac", "1", "-ar", str(RATE), "-")
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), *pcm],
        capture_output=True,
        check=True,
    ).stdout
    return (np.frombuffer(out, "<i2") / 32768).astype(np.float32)


def level(audio: Float, dbfs: float) -> Float:
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) or 1.0
    return (audio / rms * 10 ** (dbfs / 20)).astype(np.float32)


def espeak_speech(work: Path) -> tuple[Float, str]:
    return decode(speak(SPOKEN, work / "espeak.m4a", video=False)), SPOKEN


def librivox_speech() -> tuple[Float, str]:
    """The LibriVox sentences in order, 0.6 s apart, and their transcript."""
    pieces: list[Float] = []
    texts: list[str] = []
    gap = np.zeros(int(0.6 * RATE), np.float32)
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        found = re.match(r"<s>(.*)</s>\s*\((.+)\)", line.strip())
        if found:
            pieces += [decode(LIBRIVOX / f"{found[2]}.wav"), gap]
            texts.append(" ".join(found[1].split()))
    return np.concatenate(pieces), " ".join(texts)


@dataclass(frozen=True)
class Stretch:
    name: str
    start: float
    end: float
    said: str | None  # the spoken text; None where nothing was said


@dataclass(frozen=True)
class Clip:
    source: str
    layout: str
    wav: Path
    stretches: tuple[Stretch, ...]


def build_clips(work: Path, music: Float, hush_dbfs: float) -> list[Clip]:
    """Per source: speech / music / near-silence / speech, and speech over music at -20, -10 dB."""
    clips: list[Clip] = []
    bed = music[60 * RATE :]  # the part not inserted
    for source, (raw, said) in {
        "espeak": espeak_speech(work),
        "librivox": librivox_speech(),
    }.items():
        speech = level(raw, SPEECH_DBFS)
        inserted = level(music[: 60 * RATE], SPEECH_DBFS)
        hush = np.random.default_rng(0).normal(0, 10 ** (hush_dbfs / 20), 30 * RATE)
        audio = np.concatenate([speech, inserted, hush.astype(np.float32), speech])
        s, m = len(speech) / RATE, len(inserted) / RATE
        stretches = (
            Stretch("speech", 0.0, s, said),
            Stretch("music", s, s + m, None),
            Stretch("silence", s + m, s + m + 30, None),
            Stretch("speech", s + m + 30, 2 * s + m + 30, said),
        )
        wav = write_wav(work / f"{source}-inserted.wav", audio)
        clips.append(Clip(source, "inserted", wav, stretches))
        for under in (20, 10):
            mixed = speech + level(bed[: len(speech)], SPEECH_DBFS - under)
            wav = write_wav(work / f"{source}-under{under}.wav", mixed)
            clips.append(Clip(source, f"under -{under}", wav, (Stretch("speech", 0.0, s, said),)))
    return clips


@dataclass
class Run:
    """One transcription: what went into the filter and what came out."""

    off: list[Segment]
    on: list[Segment]
    no_speech: list[float | None]
    dropped: list[Dropped]
    seconds: float


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[list[Segment], list[float | None], Any]]]:
    """``engines.asr.drop_hallucinations`` wrapped: each call's input and output recorded."""
    calls: list[tuple[list[Segment], list[float | None], Any]] = []

    def wrapped(
        segments: Sequence[Segment],
        audio: Any = None,
        rate: int = RATE,
        no_speech: Sequence[float | None] | None = None,
        prompt: str | None = None,
    ) -> tuple[list[Segment], list[Dropped]]:
        result = drop_hallucinations(segments, audio, rate, no_speech, prompt)
        calls.append((list(segments), list(no_speech or [None] * len(segments)), result))
        return result

    with mock.patch.object(engines.asr, "drop_hallucinations", wrapped):
        yield calls


def transcribe(engine: WhisperxEngine, wav: Path) -> Run:
    with recording() as calls:
        started = time.perf_counter()
        transcript = engine.transcribe(wav)
        spent = time.perf_counter() - started
    off = [s for segments, _, _ in calls for s in segments]
    no_speech = [p for _, probs, _ in calls for p in probs]
    dropped = [d for _, _, (_, gone) in calls for d in gone]
    return Run(off, list(transcript.segments), no_speech, dropped, spent)


def normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())


def longest_repeat(segments: Sequence[Segment]) -> int:
    best = run = 0
    for n, s in enumerate(segments):
        run = run + 1 if n and normal(s.text) == normal(segments[n - 1].text) else 1
        best = max(best, run)
    return best


def home(start: float, end: float, stretches: Sequence[Stretch]) -> Stretch:
    """The stretch a segment or cue belongs to: a speech one it overlaps by 0.5 s or more (a
    VAD chunk runs on past the speech into the music), else the one it overlaps most."""

    def overlap(t: Stretch) -> float:
        return min(end, t.end) - max(start, t.start)

    spoken = [t for t in stretches if t.said is not None and overlap(t) >= 0.5]
    return max(spoken or stretches, key=overlap)


@dataclass
class Side:
    segments: int
    cues: int
    words: int
    repeat: int
    wer: float | None


@dataclass
class Row:
    source: str
    layout: str
    stretch: str
    seconds: float
    off: Side
    on: Side


def side(segments: list[Segment], cues: list[Cue], clip: Clip, group: Sequence[Stretch]) -> Side:
    mine = [s for s in segments if home(s.start, s.end, clip.stretches) in group]
    shown = [c for c in cues if home(c.start, c.end, clip.stretches) in group]
    said = [t.said for t in group if t.said is not None]
    heard = " ".join(s.text for s in mine)
    return Side(
        segments=len(mine),
        cues=len(shown),
        words=len(heard.split()),
        repeat=longest_repeat(mine),
        wer=round(wer(" ".join(said), heard), 3) if said else None,
    )


def rows_of(clip: Clip, run: Run, profile: str, aligner: WordAligner) -> list[Row]:
    made = {
        name: build_cues(
            aligner.align(clip.wav, Transcript("en", tuple(segs))), profile_for(profile, "en")
        )
        for name, segs in (("off", run.off), ("on", run.on))
    }
    rows: list[Row] = []
    for name in dict.fromkeys(t.name for t in clip.stretches):
        group = [t for t in clip.stretches if t.name == name]
        rows.append(
            Row(
                source=clip.source,
                layout=clip.layout,
                stretch=name,
                seconds=round(sum(t.end - t.start for t in group), 1),
                off=side(run.off, made["off"], clip, group),
                on=side(run.on, made["on"], clip, group),
            )
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, help="a faster-whisper model folder (default tiny.en)")
    ap.add_argument("--music", default="space", help=f"a theme in {THEMES} (at least 90 s)")
    ap.add_argument("--hush", type=float, default=-65.0, help="dBFS of the near-silence")
    ap.add_argument("--profile", default="netflix", help="the subtitle profile of the cues")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-hallucination-"))
    music = decode(THEMES / f"{args.music}.ogg")
    if len(music) < 90 * RATE:
        ap.error(f"{args.music}.ogg is shorter than 90 s")
    asr = asr_settings(work, args.model)
    engine = WhisperxEngine(asr)
    started = time.perf_counter()
    engine.preload()
    load = time.perf_counter() - started
    clips = build_clips(work, music, args.hush)
    aligner = word_aligner(asr)
    rows: list[Row] = []
    runs: list[tuple[Clip, Run]] = []
    for clip in clips:
        run = transcribe(engine, clip.wav)
        runs.append((clip, run))
        rows += rows_of(clip, run, args.profile, aligner)
    if args.json:
        detail = [
            {
                "source": clip.source,
                "layout": clip.layout,
                "seconds": round(run.seconds, 1),
                "segments": [
                    {**asdict(s), "no_speech": p, "kept": s in run.on}
                    for s, p in zip(run.off, run.no_speech, strict=True)
                ],
                "dropped": [{"start": d.segment.start, "reason": d.reason} for d in run.dropped],
            }
            for clip, run in runs
        ]
        print(json.dumps({"rows": [asdict(r) for r in rows], "runs": detail}, indent=2))
        return
    audio = sum(c.stretches[-1].end for c in clips)
    spent = sum(r.seconds for _, r in runs)
    print(
        f"model {asr.model.name} ({asr.model.version}), {asr.compute_type}, "
        f"{asr.threads} threads, {platform.machine()}; music {args.music}.ogg, "
        f"near-silence at {args.hush:g} dBFS; "
        f"{audio:.0f} s of audio in {len(clips)} clips, transcribed in {spent:.0f} s "
        f"(RTF {spent / audio:.2f}) after a {load:.0f} s load; cues: {args.profile}"
    )
    print(
        f"{'':<28} {'segments':>9} {'cues':>9} {'words':>9} {'repeat':>9} {'WER':>13}\n"
        f"{'source':<9} {'layout':<10} {'stretch':<8}"
        + f" {'off':>4} {'on':>4}" * 4
        + f" {'off':>6} {'on':>6}"
    )

    def wer_text(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for r in rows:
        cells = "".join(
            f" {getattr(r.off, k):>4} {getattr(r.on, k):>4}"
            for k in ("segments", "cues", "words", "repeat")
        )
        print(
            f"{r.source:<9} {r.layout:<10} {r.stretch:<8}{cells}"
            f" {wer_text(r.off.wer):>6} {wer_text(r.on.wer):>6}"
        )
    reasons = Counter(re.sub(r"\s*\(.*", "", d.reason) for _, run in runs for d in run.dropped)
    print("dropped or trimmed: " + (", ".join(f"{k} {v}" for k, v in reasons.items()) or "none"))


if __name__ == "__main__":
    main()
