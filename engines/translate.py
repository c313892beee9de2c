"""Translation behind one call each: text through a transformers seq2seq model,
``Translator(settings).translate(texts)``; speech straight into English through Whisper's own
translate task, ``SpeechTranslator(asr_settings).translate(wav, spans)``, where no text model
is installed (as WhisperX's ``--task translate`` and Bazarr's Whisper provider do).

The text model is any local Marian, M2M100, NLLB or mBART-50 folder, or IndicTrans2 where its
``IndicTransToolkit`` processor is installed. Weights load from the folder only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .asr import AsrSettings, faster_whisper_model, read_wav
from .hallucination import collapse_loops
from .models import ResolvedModel

__all__ = [
    "FLORES_CODES",
    "SPEECH_TARGET",
    "SpeechTranslator",
    "Translation",
    "TranslationError",
    "TranslationSettings",
    "Translator",
    "model_type",
]

log = logging.getLogger("engines.translate")

# ISO 639-1 to the FLORES-200 codes that NLLB and IndicTrans2 use.
FLORES_CODES = {
    "as": "asm_Beng",
    "bn": "ben_Beng",
    "en": "eng_Latn",
    "gu": "guj_Gujr",
    "hi": "hin_Deva",
    "kn": "kan_Knda",
    "ml": "mal_Mlym",
    "mr": "mar_Deva",
    "ne": "npi_Deva",
    "or": "ory_Orya",
    "pa": "pan_Guru",
    "sa": "san_Deva",
    "sd": "snd_Arab",
    "ta": "tam_Taml",
    "te": "tel_Telu",
    "ur": "urd_Arab",
    "fr": "fra_Latn",
    "de": "deu_Latn",
    "es": "spa_Latn",
    "ar": "arb_Arab",
}
_MBART_CODES = {
    "en": "en_XX",
    "hi": "hi_IN",
    "bn": "bn_IN",
    "gu": "gu_IN",
    "ta": "ta_IN",
    "te": "te_IN",
    "mr": "mr_IN",
    "ml": "ml_IN",
    "ur": "ur_PK",
    "ne": "ne_NP",
    "fr": "fr_XX",
    "de": "de_DE",
    "es": "es_XX",
}


_Batch = Callable[[list[str]], list[str]]

SPEECH_TARGET = "en"  # the one language Whisper's translate task writes
# Whisper base loops on hard audio ("the one who was the one who was ..."); a 4-word phrase
# said twice in one span is rare in dialogue and always such a loop.
_NO_REPEAT_NGRAM = 4
_RATE = 16000


class TranslationError(Exception):
    """The translation model cannot be loaded or cannot serve the language pair."""


@dataclass(frozen=True)
class Translation:
    text: str
    confidence: float  # the model's mean per-token probability of its output, 0..1


@dataclass(frozen=True)
class TranslationSettings:
    model: ResolvedModel
    source_language: str
    target_language: str
    batch_size: int
    max_length: int
    num_beams: int
    device: str

    def key_parts(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "model_version": self.model.version,
            "source_language": self.source_language,
            "target_language": self.target_language,
            "max_length": self.max_length,
            "num_beams": self.num_beams,
        }


def model_type(folder: Path) -> str:
    """The transformers family of a local model folder (``marian``, ``m2m_100``, ...)."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise TranslationError(f"{folder}: no readable config.json ({exc})") from exc
    return str(config.get("model_type", ""))


@lru_cache(maxsize=2)
def _load(path: str, device: str, remote_code: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(  # type: ignore[no-untyped-call]
        path, local_files_only=True, trust_remote_code=remote_code
    )
    model = AutoModelForSeq2SeqLM.from_pretrained(
        path, local_files_only=True, trust_remote_code=remote_code
    )
    return tokenizer, model.to(device).eval()


class Translator:
    def __init__(self, settings: TranslationSettings) -> None:
        self.settings = settings
        self.kind = model_type(settings.model.path)

    def _family(self, tokenizer: Any) -> tuple[_Batch, _Batch, dict[str, Any]]:
        """Per model family: batch pre-processing, post-processing, extra generate() arguments."""
        s, kind = self.settings, self.kind
        if kind == "IndicTrans":
            try:
                from IndicTransToolkit.processor import IndicProcessor
            except ImportError as exc:
                raise TranslationError(
                    "IndicTrans2 needs its processor: pip install IndicTransToolkit"
                ) from exc
            proc = IndicProcessor(inference=True)
            src, tgt = FLORES_CODES[s.source_language], FLORES_CODES[s.target_language]
            return (
                lambda batch: proc.preprocess_batch(batch, src_lang=src, tgt_lang=tgt),
                lambda batch: proc.postprocess_batch(batch, lang=tgt),
                {},
            )
        if kind in ("m2m_100", "mbart"):
            nllb = "Nllb" in type(tokenizer).__name__
            codes = _MBART_CODES if kind == "mbart" else FLORES_CODES if nllb else None
            pair = (
                (codes.get(s.source_language), codes.get(s.target_language))
                if codes is not None
                else (s.source_language, s.target_language)
            )
            src_code, tgt_code = pair
            if src_code is None or tgt_code is None:
                raise TranslationError(
                    f"{s.model.name} has no code for {s.source_language}->{s.target_language}"
                )
            tokenizer.src_lang = src_code
            bos = (
                tokenizer.get_lang_id(tgt_code)
                if hasattr(tokenizer, "get_lang_id")
                else tokenizer.convert_tokens_to_ids(tgt_code)
            )
            return list, list, {"forced_bos_token_id": bos}
        return list, list, {}

    def translate(self, texts: Sequence[str]) -> Iterator[Translation]:
        """Translate in batches, yielding results in order as each batch finishes."""
        import torch

        s = self.settings
        try:
            tokenizer, model = _load(str(s.model.path), s.device, self.kind == "IndicTrans")
        except (OSError, ValueError) as exc:
            raise TranslationError(f"cannot load translation model {s.model.path}: {exc}") from exc
        pre, post, generate_args = self._family(tokenizer)
        for start in range(0, len(texts), s.batch_size):
            batch = pre(list(texts[start : start + s.batch_size]))
            inputs = tokenizer(
                batch,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=s.max_length,
                return_token_type_ids=False,
            ).to(s.device)
            with torch.inference_mode():
                out = model.generate(
                    **inputs,
                    max_length=s.max_length,
                    num_beams=s.num_beams,
                    output_scores=True,
                    return_dict_in_generate=True,
                    **generate_args,
                )
                confidence = _confidence(model, out, tokenizer.pad_token_id)
            decoded = tokenizer.batch_decode(out.sequences, skip_special_tokens=True)
            for text, conf in zip(post(decoded), confidence, strict=True):
                yield Translation(text.strip(), conf)


def _confidence(model: Any, out: Any, pad_id: int | None) -> list[float]:
    """exp(mean token log-probability) of each output: beam search reports it length-
    normalised already; greedy output gets it from the per-step scores."""
    import torch

    if getattr(out, "sequences_scores", None) is not None:
        return [float(v) for v in torch.exp(out.sequences_scores)]
    steps = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    generated = out.sequences[:, -steps.shape[1] :]
    mask = (
        generated != pad_id if pad_id is not None else torch.ones_like(generated, dtype=torch.bool)
    )
    mean = torch.where(mask, steps, 0.0).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    return [float(v) for v in torch.exp(mean)]


class SpeechTranslator:
    """Whisper's translate task on a multilingual model: each span of speech (seconds on the
    file's timeline: the source transcript's segments) to one English text, so that each
    English line stands against the source line it was heard in. Spans go through
    faster-whisper's batched pipeline, up to 30 s each (what Whisper hears at once)."""

    def __init__(self, settings: AsrSettings) -> None:
        self.settings = settings

    def translate(
        self,
        wav: Path,
        spans: Sequence[tuple[float, float]],
        progress: Callable[[float], None] | None = None,
    ) -> Iterator[Translation]:
        import math

        from faster_whisper import BatchedInferencePipeline  # type: ignore[import-untyped]

        s = self.settings
        if not spans:
            return
        audio = read_wav(wav)
        clips = [{"start": a, "end": min(b, a + 30.0, len(audio) / _RATE)} for a, b in spans]
        pipeline = BatchedInferencePipeline(faster_whisper_model(s))
        for first in range(0, len(clips), s.batch_size):
            batch = clips[first : first + s.batch_size]
            heard, _info = pipeline.transcribe(
                audio,
                language=s.language,
                task="translate",
                clip_timestamps=batch,
                without_timestamps=True,
                batch_size=s.batch_size,
                beam_size=s.beam_size,
                temperature=s.temperature,
                no_repeat_ngram_size=_NO_REPEAT_NGRAM,
                log_progress=False,
            )
            texts: list[list[str]] = [[] for _ in batch]
            logprobs: list[list[float]] = [[] for _ in batch]
            for segment in heard:  # one per clip, at the clip's start
                i = max(n for n, c in enumerate(batch) if c["start"] <= segment.start + 0.01)
                texts[i].append(segment.text.strip())
                logprobs[i].append(segment.avg_logprob)
            for text, logprob in zip(texts, logprobs, strict=True):
                mean = sum(logprob) / len(logprob) if logprob else -math.inf
                yield Translation(collapse_loops(" ".join(text)).strip(), math.exp(mean))
            if progress is not None:
                progress(100 * min(len(clips), first + len(batch)) / len(clips))
