"""Word-start error of the word aligner against known word positions, variant by variant.

    .venv/bin/python benchmarks/word_timing.py [--model DIR] [--minutes 2] [--json]

Two kinds of ground truth:

* synth: English assembled from single espeak-ng words (four voices, three speeds), each word
  trimmed to its sound and placed after a random 0.1-0.8 s pause (1.2-2 s between
  utterances of 6-14 words), over white noise ``--snr`` dB under the speech: every word's start
  is known to the sample.
* real: the human recordings of Debian's pocketsphinx-testdata (librivox, cards, goforward)
  with their transcripts; the truth is pocketsphinx's forced alignment of those transcripts
  (the ``pocketsphinx`` package, its en-us model), an aligner independent of Whisper.

Each dataset is aligned twice: ``asr`` aligns what tiny.en (``WhisperxEngine``) heard, in the
segments its VAD made, and the words are matched to the truth's (difflib on normalised words);
``ref`` gives the true text as the segment text (for real files the whole file, for synth each
utterance with 0.1-0.6 s of margin), which isolates the timing error from recognition errors.
Rows: variant x dataset, with matched words, median and p90 of |start error| (s), the share
within 0.10 / 0.25 s, and the aligner's seconds per minute of audio (model loaded beforehand).
"""

from __future__ import annotations

import argparse
import difflib
import json
import platform
import random
import re
import statistics
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engines.align import CrossAttentionAligner, WordAligner
from engines.asr import AsrSettings, WhisperxEngine
from jobs import JobRequest, prepare
from pipeline import load_settings
from records import Segment, Transcript

RATE = 16000
DATA = Path("/usr/share/pocketsphinx/test/data")
VOICES = ("en-us", "en", "en-us+f3", "en+m3")
SPEEDS = (140, 170, 200)
VOCABULARY = [
    "the", "old", "teacher", "walks", "to", "river", "every", "evening", "a", "young", "doctor",
    "writes", "letter", "about", "busy", "market", "my", "grandmother", "remembers", "railway",
    "station", "before", "rain", "farmer", "talks", "quietly", "small", "temple", "after",
    "festival", "tired", "driver", "waits", "near", "school", "garden", "cold", "winter",
    "little", "girl", "dreams", "city", "hospital", "heavy", "heart", "neighbour", "sings",
    "song", "mountain", "road", "while", "sun", "sets", "paints", "picture", "village", "well",
    "quiet", "sunday", "runs", "past", "cinema", "hall", "without", "word", "visits", "morning",
    "train", "children", "stories", "king", "clever", "minister", "stranger", "arrives", "box",
    "full", "letters", "nobody", "knows", "where", "came", "from", "why"
]  # fmt: skip
NUMBERS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7":
    "seven", "8": "eight", "9": "nine", "10": "ten"
}  # fmt: skip
SPELLING = {"mr": "mister", "mrs": "missus", "neighbor": "neighbour", "meters": "meters"}

Float = npt.NDArray[np.float32]
Truth = list[tuple[str, float]]  # word, start (s)


@dataclass(frozen=True)
class Clip:
    name: str
    wav: Path
    seconds: float
    truth: Truth
    ref: tuple[Segment, ...]  # the true text, as segments


def write_wav(path: Path, audio: Float) -> Path:
    pcm = np.clip(audio * 32768, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


def read_wav(path: Path) -> Float:
    with wave.open(str(path), "rb") as w:
        return (np.frombuffer(w.readframes(w.getnframes()), dtype="<i2") / 32768).astype(np.float32)


def spoken_word(word: str, voice: str, speed: int, cache: Path) -> Float:
    """One espeak-ng word at 16 kHz, trimmed to where its 5 ms frames rise 40 dB under its
    peak: the sound starts at sample 0."""
    out = cache / f"{voice}-{speed}-{word}.wav"
    if not out.exists():
        raw = out.with_suffix(".raw.wav")
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), word], check=True
        )
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw), "-ar", str(RATE), str(out)],
            check=True,
        )
        raw.unlink()
    audio = read_wav(out)
    frames = audio[: len(audio) // 80 * 80].reshape(-1, 80)
    level = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    loud = np.flatnonzero(level > level.max() * 0.01)
    return audio[loud[0] * 80 : (loud[-1] + 1) * 80]


def synth_clip(work: Path, minutes: float, snr: float, seed: int = 11) -> Clip:
    rng = random.Random(seed)
    cache = work / "words"
    cache.mkdir(parents=True, exist_ok=True)
    pieces: list[Float] = []
    truth: Truth = []
    ref: list[Segment] = []
    at = 0.5
    pieces.append(np.zeros(int(at * RATE), np.float32))
    while at < minutes * 60:
        voice, speed = rng.choice(VOICES), rng.choice(SPEEDS)
        words = [rng.choice(VOCABULARY) for _ in range(rng.randint(6, 14))]
        first = at
        for n, word in enumerate(words):
            if n:
                gap = np.zeros(int(rng.uniform(0.1, 0.8) * RATE), np.float32)
                pieces.append(gap)
                at += len(gap) / RATE
            sound = spoken_word(word, voice, speed, cache)
            truth.append((word, round(at, 4)))
            pieces.append(sound)
            at += len(sound) / RATE
        ref.append(
            Segment(
                start=round(max(0.0, first - rng.uniform(0.1, 0.6)), 3),
                end=round(at + rng.uniform(0.1, 0.6), 3),
                text=" ".join(words),
            )
        )
        pause = np.zeros(int(rng.uniform(1.2, 2.0) * RATE), np.float32)
        pieces.append(pause)
        at += len(pause) / RATE
    audio = np.concatenate(pieces)
    speech = float(np.sqrt(np.mean(audio[np.abs(audio) > 1e-4] ** 2)))
    noise = np.random.default_rng(seed).normal(0, speech * 10 ** (-snr / 20), len(audio))
    wav = write_wav(work / "synth.wav", (audio + noise).astype(np.float32))
    return Clip("synth", wav, len(audio) / RATE, truth, tuple(ref))


def sphinx_truth(audio: Float, text: str) -> Truth:
    """pocketsphinx's forced alignment of ``text``: each word's first 10 ms frame."""
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=RATE, bestpath=False, loglevel="FATAL")
    decoder.set_align_text(text)
    decoder.start_utt()
    decoder.process_raw((audio * 32768).astype("<i2").tobytes(), full_utt=True)
    decoder.end_utt()
    return [
        (re.sub(r"\(\d+\)$", "", s.word), s.start_frame / 100)
        for s in decoder.seg()
        if not s.word.startswith(("<", "["))
    ]


def real_clips(work: Path) -> list[Clip]:
    """The recordings and their transcripts (``<s> text </s> (id)`` lines)."""
    lines = [
        *(("librivox", DATA / "librivox" / "transcription"),),
        ("cards", DATA / "cards" / "cards.transcription"),
    ]
    items: list[tuple[str, Path, str]] = []
    for folder, listing in lines:
        for line in listing.read_text().splitlines():
            found = re.match(r"<s>(.*)</s>\s*\((.+)\)", line.strip())
            if found:
                text, name = " ".join(found[1].split()), found[2]
                items.append((f"{folder}/{name}", DATA / folder / f"{name}.wav", text))
    clips = []
    raw = np.frombuffer((DATA / "goforward.raw").read_bytes(), dtype="<i2") / 32768
    goforward = write_wav(work / "goforward.wav", raw.astype(np.float32))
    items.append(("goforward", goforward, "go forward ten meters"))
    for name, path, text in items:
        audio = read_wav(path)
        wav = write_wav(work / f"{name.replace('/', '-')}.wav", audio)  # as demux writes it
        seconds = len(audio) / RATE
        clips.append(
            Clip(name, wav, seconds, sphinx_truth(audio, text), (Segment(0.0, seconds, text),))
        )
    return clips


def normal(word: str) -> str:
    word = re.sub(r"[^\w']+", "", word.lower())
    return SPELLING.get(word, NUMBERS.get(word, word))


def start_errors(truth: Truth, transcript: Transcript) -> list[float]:
    """|predicted - true| start of each word the two texts share (difflib's matching blocks)."""
    said = [(normal(w.word), float(w.start or 0.0)) for s in transcript.segments for w in s.words]
    said = [(w, t) for w, t in said if w]
    matcher = difflib.SequenceMatcher(
        a=[w for w, _ in truth], b=[w for w, _ in said], autojunk=False
    )
    return [
        abs(said[block.b + k][1] - truth[block.a + k][1])
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
    ]


@dataclass
class Row:
    variant: str
    dataset: str
    words: int
    median: float
    p90: float
    within_010: float
    within_025: float
    seconds_per_minute: float


def measure(
    variant: str,
    aligner: WordAligner,
    dataset: str,
    inputs: list[tuple[Clip, Transcript]],
) -> Row:
    errors: list[float] = []
    spent = audio = 0.0
    for clip, transcript in inputs:
        started = time.perf_counter()
        timed = aligner.align(clip.wav, transcript)
        spent += time.perf_counter() - started
        audio += clip.seconds
        errors += start_errors(clip.truth, timed)
    ordered = sorted(errors) or [float("nan")]
    return Row(
        variant=variant,
        dataset=dataset,
        words=len(errors),
        median=round(statistics.median(ordered), 3),
        p90=round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
        within_010=round(100 * sum(e <= 0.10 for e in errors) / max(1, len(errors)), 1),
        within_025=round(100 * sum(e <= 0.25 for e in errors) / max(1, len(errors)), 1),
        seconds_per_minute=round(spent / (audio / 60), 2),
    )


def asr_settings(work: Path, model: Path | None) -> AsrSettings:
    """tiny.en with the project's defaults (or ``model``), as a job would get them."""
    settings = load_settings(env_file=work / "none.env", cache_dir=work / "cache")
    media = write_wav(work / "probe.wav", np.zeros(RATE, np.float32))
    request = JobRequest(media=media, model=str(model) if model else "tiny.en")
    return prepare(request, settings).asr


def variants(asr: AsrSettings) -> dict[str, Callable[[], WordAligner]]:
    return {
        "cross-attention": lambda: CrossAttentionAligner(asr, onset=0.0),
        "cross-attention + onsets": lambda: CrossAttentionAligner(asr),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, help="a faster-whisper model folder (default tiny.en)")
    ap.add_argument("--minutes", type=float, default=2.0, help="length of the synth clip")
    ap.add_argument("--snr", type=float, default=30.0, help="dB of speech over the synth noise")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-words-"))
    asr = asr_settings(work, args.model)
    transcriber = WhisperxEngine(asr)
    synth = synth_clip(work, args.minutes, args.snr)
    real = real_clips(work)

    def heard(clips: list[Clip]) -> list[tuple[Clip, Transcript]]:
        return [(c, transcriber.transcribe(c.wav)) for c in clips]

    def given(clips: list[Clip]) -> list[tuple[Clip, Transcript]]:
        return [(c, Transcript(asr.language or "en", c.ref)) for c in clips]

    datasets = {
        "synth/asr": heard([synth]),
        "synth/ref": given([synth]),
        "real/asr": heard(real),
        "real/ref": given(real),
    }
    rows: list[Row] = []
    for name, make in variants(asr).items():
        aligner = make()
        aligner.align(synth.wav, Transcript("en", (replace(synth.ref[0]),)))  # load the model
        rows += [measure(name, aligner, d, inputs) for d, inputs in datasets.items()]
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    print(
        f"model {asr.model.name} ({asr.model.version}), {asr.compute_type}, {asr.threads} threads, "
        f"{platform.machine()}; synth {synth.seconds / 60:.1f} min at {args.snr:g} dB SNR, "
        f"real {sum(c.seconds for c in real):.0f} s in {len(real)} files"
    )
    head = f"{'variant':<28} {'dataset':<10} {'words':>5} {'median':>7} {'p90':>6} "
    print(head + f"{'<=0.10':>7} {'<=0.25':>7} {'s/min':>6}")
    for r in rows:
        print(
            f"{r.variant:<28} {r.dataset:<10} {r.words:>5} {r.median:>7.3f} {r.p90:>6.3f} "
            f"{r.within_010:>6.1f}% {r.within_025:>6.1f}% {r.seconds_per_minute:>6.2f}"
        )


if __name__ == "__main__":
    main()
