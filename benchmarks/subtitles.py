"""Cues against the rules, builder by builder, on the same timed transcripts.

    .venv/bin/python benchmarks/subtitles.py [--profile netflix] [--minutes 3] [--json]

Three builders get the same transcripts (tiny.en's, words timed by the default aligner):

* ours: ``cues.build_cues`` to the profile;
* whisperx: WhisperX's own SRT writer (``whisperx.utils.get_writer``) with
  ``--max_line_width`` and ``--max_line_count`` set to the profile's, the most it offers;
* before: the builder the pipeline had until issue 15 (``engines/subtitles.py`` at 740bf17,
  read from git): segments cut into two-line chunks, times shared out by text length.

Every builder's cues go through an SRT file and ``cues.check`` (so all are judged at whole
milliseconds). Datasets: ``synth``, English assembled from single espeak-ng words at known
positions (``word_timing.synth_clip``); ``real``, pyannote's two-speaker sample (its .stm
utterances) and Debian's pocketsphinx-testdata recordings, whose word starts are
pocketsphinx's forced alignment of the reference text. Line-start error: |cue start - true
start of the cue's first word|, over cues whose first word matches the reference (difflib).
"""

from __future__ import annotations

import argparse
import difflib
import json
import platform
import statistics
import subprocess
import tempfile
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from word_timing import (
    RATE,
    Clip,
    Truth,
    asr_settings,
    normal,
    read_wav,
    real_clips,
    sphinx_truth,
    synth_clip,
    write_wav,
)

from cues import Cue, Profile, build_cues, check, profile_for, read_cues, write_subtitles
from engines.align import CrossAttentionAligner
from engines.asr import WhisperxEngine
from records import Segment, Transcript
from testkit import pyannote_sample

REPO = Path(__file__).resolve().parents[1]
SAMPLE = pyannote_sample()
BEFORE = "740bf17"  # the last commit with the old builder

Builder = Callable[[Transcript, Profile, Path], list[Cue]]


def ours(transcript: Transcript, profile: Profile, work: Path) -> list[Cue]:
    cues = build_cues(transcript, profile)
    files = write_subtitles(cues, transcript, work, "ours", ("srt",), profile)
    return read_cues(Path(files["srt"]))


def whisperx_writer(transcript: Transcript, profile: Profile, work: Path) -> list[Cue]:
    from whisperx.utils import get_writer

    options = {
        "max_line_width": profile.max_chars_per_line,
        "max_line_count": profile.max_lines,
        "highlight_words": False,
    }
    get_writer("srt", str(work))(transcript.to_dict(), str(work / "whisperx.wav"), options)
    return read_cues(work / "whisperx.srt")


def _old_module() -> types.ModuleType:
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{BEFORE}:engines/subtitles.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("old_subtitles")
    exec(compile(source, "old_subtitles.py", "exec"), module.__dict__)
    return module


def before(transcript: Transcript, profile: Profile, work: Path) -> list[Cue]:  # noqa: ARG001
    path = work / "before.srt"
    path.write_text(_old_module().to_srt(transcript), encoding="utf-8")
    return read_cues(path)


BUILDERS: dict[str, Builder] = {"ours": ours, "whisperx": whisperx_writer, "before": before}


def pyannote_clip(work: Path) -> Clip:
    """pyannote's sample: each .stm utterance force-aligned by pocketsphinx in its own span."""
    audio = read_wav(SAMPLE / "sample.wav")
    truth: Truth = []
    ref = []
    for line in (SAMPLE / "sample.stm").read_text().splitlines():
        _, _, _speaker, start, end, *words = line.split()
        a, b = float(start), float(end)
        ref.append(Segment(a, b, " ".join(words)))
        piece = audio[int(a * RATE) : int(b * RATE) + RATE // 10]
        try:
            said = sphinx_truth(piece, " ".join(normal(w) for w in words))
        except (
            RuntimeError,
            TypeError,
        ):  # a word pocketsphinx's dictionary lacks, or no path: no truth here
            continue
        truth += [(w, round(a + t, 3)) for w, t in said]
    wav = write_wav(work / "pyannote-sample.wav", audio)
    return Clip("pyannote", wav, len(audio) / RATE, truth, tuple(ref))


def start_errors(truth: Truth, cues: Sequence[Cue]) -> list[float]:
    """Each cue whose first word matches the truth: |its start - that word's true start|."""
    shown = [(normal(w), k) for k, c in enumerate(cues) for w in c.text.split()]
    shown = [(w, k) for w, k in shown if w]
    first = {k: i for i, (_, k) in reversed(list(enumerate(shown)))}
    matcher = difflib.SequenceMatcher(a=[w for w, _ in truth], b=[w for w, _ in shown])
    true_start = {
        block.b + n: truth[block.a + n][1]
        for block in matcher.get_matching_blocks()
        for n in range(block.size)
    }
    return [abs(cues[k].start - true_start[i]) for k, i in first.items() if i in true_start]


@dataclass
class Row:
    builder: str
    dataset: str
    cues: int = 0
    minutes: float = 0.0
    passing: dict[str, int] = field(default_factory=dict)  # rule: cues passing it
    clean: int = 0  # cues passing every rule
    errors: list[float] = field(default_factory=list)

    def add(self, cues: list[Cue], profile: Profile, language: str, clip: Clip) -> None:
        report = check(cues, profile, language)
        self.cues += report.cues
        self.minutes += clip.seconds / 60
        for rule in report.rules:
            self.passing[rule.rule] = self.passing.get(rule.rule, 0) + report.cues - rule.failed
        self.clean += round(report.passing_share * report.cues)
        self.errors += start_errors(clip.truth, cues)

    def share(self, rule: str) -> float:
        return 100 * self.passing.get(rule, 0) / max(1, self.cues)

    def summary(self) -> dict[str, float | int | str]:
        ordered = sorted(self.errors) or [float("nan")]
        return {
            "builder": self.builder,
            "dataset": self.dataset,
            "cues": self.cues,
            "cues_per_minute": round(self.cues / max(self.minutes, 1e-9), 1),
            "all_rules_pct": round(100 * self.clean / max(1, self.cues), 1),
            **{f"{rule}_pct": round(self.share(rule), 1) for rule in self.passing},
            "start_median": round(statistics.median(ordered), 3),
            "start_p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
        }


COLUMNS = ("chars_per_line", "lines", "reading_speed", "min_duration", "max_duration", "gap")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="netflix")
    ap.add_argument("--minutes", type=float, default=3.0, help="length of the synth clip")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-subtitles-"))
    asr = asr_settings(work, None)
    engine, aligner = WhisperxEngine(asr), CrossAttentionAligner(asr)
    datasets = {
        "synth": [synth_clip(work, args.minutes, 30.0)],
        "real": [pyannote_clip(work), *real_clips(work)],
    }
    rows = {(b, d): Row(b, d) for d in datasets for b in BUILDERS}
    for dataset, clips in datasets.items():
        for clip in clips:
            transcript = aligner.align(clip.wav, engine.transcribe(clip.wav))
            profile = profile_for(args.profile, transcript.language)
            for name, build in BUILDERS.items():
                out = work / name / clip.name.replace("/", "-")
                out.mkdir(parents=True, exist_ok=True)
                cues = build(transcript, profile, out)
                rows[name, dataset].add(cues, profile, transcript.language, clip)
    summaries = [row.summary() for row in rows.values()]
    if args.json:
        print(json.dumps(summaries, indent=2))
        return
    seconds = {d: sum(c.seconds for c in clips) for d, clips in datasets.items()}
    print(
        f"profile {args.profile}; transcripts by {asr.model.name} + cross-attention words; "
        f"{platform.machine()}, {asr.threads} threads; synth {seconds['synth'] / 60:.1f} min, "
        f"real {seconds['real']:.0f} s in {len(datasets['real'])} files"
    )
    head = f"{'builder':<9} {'data':<6} {'cues':>5} {'/min':>5} {'all':>6} "
    head += " ".join(f"{c[:9]:>9}" for c in COLUMNS)
    print(head + f" {'start med':>9} {'p90':>6}")
    for s in summaries:
        shares = " ".join(f"{s[f'{c}_pct']:>8.1f}%" for c in COLUMNS)
        print(
            f"{s['builder']:<9} {s['dataset']:<6} {s['cues']:>5} {s['cues_per_minute']:>5} "
            f"{s['all_rules_pct']:>5.1f}% {shares} {s['start_median']:>9.3f} {s['start_p90']:>6.3f}"
        )


if __name__ == "__main__":
    main()
