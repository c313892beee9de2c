"""WhisperX behind one narrow call: ``WhisperxEngine(settings).transcribe(wav) -> Transcript``."""

from __future__ import annotations

import logging
import math
import threading
import wave
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from records import Segment, Transcript, Word, spoken_words

from .hallucination import NO_SPEECH_CONFIDENCE, drop_hallucinations
from .models import ResolvedModel, is_multilingual

_RATE = 16000  # what demux writes and WhisperX expects

__all__ = [
    "TUNED",
    "AlignmentNotReadyError",
    "AsrSettings",
    "WhisperxEngine",
    "check_alignment_ready",
    "faster_whisper_model",
    "read_wav",
    "word_error_rate",
]

log = logging.getLogger("engines.asr")

# WhisperX installs a stdout handler on first use unless its logger already has one, and
# Lightning announces a checkpoint upgrade on every VAD load: route both into normal logging.
logging.getLogger("whisperx").addHandler(logging.NullHandler())
logging.getLogger("whisperx").setLevel(logging.WARNING)
for _name in (
    "lightning.pytorch.utilities.migration.utils",
    "pytorch_lightning.utilities.migration.utils",
):
    logging.getLogger(_name).setLevel(logging.WARNING)


class AlignmentNotReadyError(Exception):
    """Alignment is configured but would have to download data at run time."""


def check_alignment_ready() -> None:
    """whisperx.align splits sentences with NLTK's punkt_tab and downloads it when missing."""
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab")
    except LookupError as exc:
        raise AlignmentNotReadyError(
            "ALIGN_MODEL_DIR is set but NLTK's punkt_tab data is missing (nothing is downloaded "
            "at run time): run `python -m nltk.downloader -d DIR punkt_tab` where a network is "
            "reachable, copy DIR here and set NLTK_DATA=DIR"
        ) from exc


def _tuned(variable: str) -> dict[str, str]:
    """Metadata of a field that changes the transcript (so it is in the cache key), set by
    ``variable``."""
    return {"variable": variable}


@dataclass(frozen=True)
class AsrSettings:
    """Everything that changes a transcript; ``key_parts`` is what the ASR cache key hashes."""

    model: ResolvedModel
    language: str | None
    device: str
    compute_type: str = field(metadata=_tuned("whisper_compute_type"))
    batch_size: int = field(metadata=_tuned("whisper_batch_size"))
    beam_size: int = field(metadata=_tuned("whisper_beam_size"))
    best_of: int = field(metadata=_tuned("whisper_best_of"))
    temperature: float = field(metadata=_tuned("whisper_temperature"))
    vad_method: str = field(metadata=_tuned("whisper_vad_method"))
    vad_onset: float = field(metadata=_tuned("whisper_vad_onset"))
    vad_offset: float = field(metadata=_tuned("whisper_vad_offset"))
    threads: int
    # WhisperX's chunk_size: the longest segment
    segment_seconds: int = field(default=30, metadata=_tuned("asr_segment_seconds"))
    # the audio goes through media.denoise first
    denoise: bool = field(default=False, metadata=_tuned("asr_denoise"))
    align_model: ResolvedModel | None = None  # words are timed by their own stage

    def key_parts(self) -> dict[str, Any]:
        script = SCRIPTS.get(self.language or "")
        return {
            "model": self.model.name,
            "model_version": self.model.version,
            "language": self.language,
            **{name: getattr(self, name) for name in TUNED},
            # Speakers are their own stage now; the part stays so that transcripts stored
            # before keep their keys.
            "diarization_model": None,
            **({"script": script[0]} if script else {}),
        }

    def with_parts(self, parts: Mapping[str, Any], model: ResolvedModel) -> AsrSettings:
        """These settings as a stored transcript's key parts give them, on ``model`` (the one
        ``parts`` names): the inverse of ``key_parts`` for what a job can choose. Raises
        KeyError, TypeError or ValueError for parts that are not such a transcript's."""
        tuned = {name: type(getattr(self, name))(parts[name]) for name in TUNED}
        return replace(self, model=model, language=parts["language"], **tuned)


# Field name: the setting that sets it. With the model and the device, what pins a job's ASR.
TUNED: Mapping[str, str] = {
    f.name: f.metadata["variable"] for f in fields(AsrSettings) if "variable" in f.metadata
}


# Languages Whisper writes in more than one script: Hindi speech comes out in Urdu's Arabic
# script, or romanized, as often as in Devanagari. A prompt in the wanted script settles it
# (measured on Festival's Hindi voice with music: Devanagari 33% of letters -> 100%, character
# error 1.55 -> 0.54; suppressing the other scripts' tokens instead left lines empty).
SCRIPTS: Mapping[str, tuple[str, str]] = {
    "hi": ("Deva", "नमस्ते, आज हम हिंदी में बात करेंगे।"),
}


_load_lock = threading.Lock()


@lru_cache(maxsize=2)
def _faster_whisper(path: str, device: str, compute_type: str, threads: int) -> Any:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]

    return WhisperModel(
        path, device=device, compute_type=compute_type, cpu_threads=threads, local_files_only=True
    )


def faster_whisper_model(settings: AsrSettings) -> Any:
    """The ASR model as faster-whisper's ``WhisperModel`` (word timing, language detection):
    one per process and configuration, never loaded twice by threads."""
    s = settings
    with _load_lock:
        return _faster_whisper(str(s.model.path), s.device, s.compute_type, s.threads)


@lru_cache(maxsize=2)
def _pipeline(
    model_dir: str,
    device: str,
    compute_type: str,
    language: str | None,
    threads: int,
    asr_options: tuple[tuple[str, Any], ...],
    vad_options: tuple[tuple[str, Any], ...],
    vad_method: str,
    prompt: str | None,
) -> Any:
    """One loaded model per process and configuration: a worker never reloads it per file."""
    import whisperx

    options = dict(asr_options, initial_prompt=prompt)
    return whisperx.load_model(
        model_dir,
        device=device,
        compute_type=compute_type,
        language=language,
        asr_options=options,
        vad_options=dict(vad_options),
        vad_method=vad_method,
        local_files_only=True,
        threads=threads,
    )


class WhisperxEngine:
    def __init__(self, settings: AsrSettings) -> None:
        self.settings = settings
        self.multilingual = is_multilingual(settings.model.path)

    @property
    def prompt(self) -> str | None:
        """The text Whisper is primed with: the script's, for a language written in several."""
        script = SCRIPTS.get(self.settings.language or "") if self.multilingual else None
        return script[1] if script else None

    def preload(self) -> None:
        """Load the model ahead of need, e.g. in a thread while the orchestrator starts up."""
        self._load()

    def _load(self) -> Any:
        s = self.settings
        with _load_lock:  # a preloading thread and the ASR stage must not load it twice
            return _pipeline(
                str(s.model.path),
                s.device,
                s.compute_type,
                s.language if self.multilingual else "en",
                s.threads,
                (
                    ("beam_size", s.beam_size),
                    ("best_of", s.best_of),
                    ("temperatures", (s.temperature,)),
                ),
                (("vad_onset", s.vad_onset), ("vad_offset", s.vad_offset)),
                s.vad_method,
                self.prompt,
            )

    def _language(self, pipeline: Any, audio: Any) -> tuple[str, dict[str, float]]:
        if not self.multilingual:
            return "en", {"en": 1.0}
        if self.settings.language:
            return self.settings.language, {}
        _lang, _prob, all_probs = pipeline.model.detect_language(audio=audio[: 30 * 16000])
        probs = {code: round(float(p), 4) for code, p in all_probs[:5]}
        return max(probs, key=probs.__getitem__), probs

    def transcribe(
        self,
        wav: Path,
        progress: Callable[[float], None] | None = None,
        ranges: Sequence[tuple[float, float]] | None = None,
    ) -> Transcript:
        """The whole file, or only ``ranges`` of it (seconds; the rest is known already), with
        segment and word times on the file's timeline either way."""
        pieces = list(self.transcribe_pieces(wav, ranges, progress))
        language, probs = (
            (pieces[0][1].language, pieces[0][1].language_probs) if pieces else ("", {})
        )
        segments = tuple(s for _, t in pieces for s in t.segments)
        return Transcript(language=language, segments=segments, language_probs=probs)

    def transcribe_pieces(
        self,
        wav: Path,
        ranges: Sequence[tuple[float, float]] | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> Iterator[tuple[tuple[float, float], Transcript]]:
        """Each range's transcript as soon as it is done (the file is read once, its language
        found once), so a caller can keep each before the next: a killed job resumes."""
        pipeline = self._load()
        audio = read_wav(wav)
        language, probs = self._language(pipeline, audio)
        spans = [(0.0, len(audio) / _RATE)] if ranges is None else list(ranges)
        total = sum(b - a for a, b in spans) or 1.0
        done = 0.0
        for start, end in spans:
            piece = audio[int(start * _RATE) : int(end * _RATE)]

            def step(percent: float, done: float = done, length: float = end - start) -> None:
                if progress is not None:
                    progress((done + length * percent / 100) / total * 100)

            found = self._segments(pipeline, piece, language, step)
            segments = [_segment(s, start) for s in found]
            no_speech = self._no_speech(pipeline, piece, found, segments, language)
            kept, dropped = drop_hallucinations(segments, audio, _RATE, no_speech, self.prompt)
            for d in dropped:
                s = d.segment
                what = "trimmed" if d.kept else "dropped"
                log.info("%s %.2f-%.2f %r: %s", what, s.start, s.end, s.text, d.reason)
            yield (start, end), Transcript(language, tuple(kept), probs)
            done += end - start

    def _segments(
        self, pipeline: Any, audio: Any, language: str, progress: Callable[[float], None]
    ) -> list[dict[str, Any]]:
        result = pipeline.transcribe(
            audio,
            batch_size=self.settings.batch_size,
            language=language,
            chunk_size=self.settings.segment_seconds,
            progress_callback=progress,
        )
        segments: list[dict[str, Any]] = result["segments"]
        return segments

    def _no_speech(
        self,
        pipeline: Any,
        audio: Any,
        found: Sequence[dict[str, Any]],
        segments: Sequence[Segment],
        language: str,
    ) -> list[float | None]:
        """Whisper's no-speech probability of each segment the filter could drop for it (one
        encoder pass and one decoder step each; batched WhisperX computes none), else None."""
        import numpy as np
        from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]
        from whisperx.audio import N_SAMPLES, log_mel_spectrogram

        model = pipeline.model
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        mels = model.feat_kwargs.get("feature_size") or 80
        wanted = [
            n
            for n, s in enumerate(segments)
            if s.confidence is None or s.confidence < NO_SPEECH_CONFIDENCE
        ]
        out: list[float | None] = [None] * len(segments)
        size = self.settings.batch_size
        for first in range(0, len(wanted), size):
            batch = wanted[first : first + size]
            features = []
            for n in batch:
                raw = found[n]
                piece = audio[int(raw["start"] * _RATE) : int(raw["end"] * _RATE)][:N_SAMPLES]
                features.append(
                    log_mel_spectrogram(piece, n_mels=mels, padding=N_SAMPLES - len(piece))
                )
            results = model.model.generate(
                model.encode(np.stack([np.asarray(f) for f in features])),
                [prompt] * len(batch),
                max_length=len(prompt) + 1,
                return_no_speech_prob=True,
            )
            for n, result in zip(batch, results, strict=True):
                out[n] = round(float(result.no_speech_prob), 4)
        return out


def read_wav(wav: Path) -> Any:
    """Our demux already wrote 16 kHz mono s16: read it as whisperx.load_audio would, minus a
    second ffmpeg decode (about 1 s per 10 minutes of audio)."""
    import numpy as np

    with wave.open(str(wav), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def _segment(raw: dict[str, Any], offset: float = 0.0) -> Segment:
    """A WhisperX segment as our record, ``offset`` seconds later on the file's timeline."""

    def moved(t: float | None) -> float | None:
        return None if t is None else round(float(t) + offset, 3)

    words = tuple(
        Word(
            word=w["word"],
            start=moved(w.get("start")),
            end=moved(w.get("end")),
            score=w.get("score"),
        )
        for w in raw.get("words", ())
    )
    if "avg_logprob" in raw:
        confidence: float | None = round(math.exp(raw["avg_logprob"]), 4)
    elif words and all(w.score is not None for w in words):
        confidence = round(sum(w.score or 0.0 for w in words) / len(words), 4)
    else:
        confidence = None
    return Segment(
        start=round(float(raw["start"]) + offset, 3),
        end=round(float(raw["end"]) + offset, 3),
        text=str(raw["text"]).strip(),
        confidence=confidence,
        words=words,
        speaker=raw.get("speaker"),
    )


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word edits (Levenshtein over lower-cased words, punctuation dropped) per reference word."""
    from rapidfuzz.distance import Levenshtein

    ref = spoken_words(reference)
    return Levenshtein.distance(ref, spoken_words(hypothesis)) / max(1, len(ref))
