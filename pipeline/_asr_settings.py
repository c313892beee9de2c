"""An audio's ASR settings, decided once its hash is known: those its first job adopted from a
similar cut or had recommended (when the user pinned none and they still run here), else the
job's own. A re-run of any cut therefore finds the transcript its first run stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from engines.asr import AsrSettings
from engines.models import ModelError, resolve_model
from records import AudioFingerprint

from ._plan import JobPlan

__all__ = ["adopt", "asr_settings_for"]


def asr_settings_for(
    plan: JobPlan, audio_hash: str, fingerprint: AudioFingerprint | None = None
) -> AsrSettings:
    """``fingerprint``: the audio's, where the caller has it (else read from the store when
    the job needs its detected language)."""
    asr = _for_language(plan, audio_hash, fingerprint)
    if plan.asr_pinned or not plan.cache.store.enabled:
        return asr
    link = plan.cache.cuts.links.get(audio_hash)
    adopted = adopt(plan, link.asr) if link is not None and link.asr is not None else None
    return adopted or asr


def _for_language(
    plan: JobPlan, audio_hash: str, fingerprint: AudioFingerprint | None
) -> AsrSettings:
    """The job's settings at the audio's detected language, on the model that language gets
    (unless the user named one); the job's own until the language is known."""
    if plan.detect_with is None:
        return plan.asr
    if fingerprint is None and plan.cache.store.enabled:
        fingerprint = plan.cache.cuts.fingerprint(audio_hash)
    language = fingerprint.language_detected if fingerprint is not None else None
    if language is None:
        return plan.asr
    model = plan.models.for_language(language) if plan.models else plan.asr.model
    return replace(plan.asr, language=language, model=model)


def adopt(plan: JobPlan, parts: Mapping[str, Any]) -> AsrSettings | None:
    """ASR settings rebuilt from a stored transcript's key parts, or None where this machine
    cannot reproduce them exactly (another model version, alignment or diarization model, or
    half precision on a CPU)."""
    catalog = plan.settings.whisper_model_catalog
    models = plan.cache.store.models_dir
    try:
        model = resolve_model("whisperx", str(parts["model"]), catalog, models, "catalog")
        candidate = plan.asr.with_parts(parts, model)
    except (ModelError, KeyError, TypeError, ValueError):
        return None
    if candidate.key_parts() != dict(parts):
        return None
    if plan.asr.device == "cpu" and "float16" in candidate.compute_type:
        return None
    return candidate
