"""transformers seq2seq behind one call: ``Translator(settings).translate(texts)``.

Works with any local Marian, M2M100, NLLB or mBART-50 folder, and with IndicTrans2 where its
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

from .models import ResolvedModel

__all__ = [
    "FLORES_CODES",
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
