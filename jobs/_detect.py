"""The language a request's speech is in, as the subtitle job would find it: the fingerprint
stage alone, which answers from the store for audio it knows (and stores what it finds, so the
job that follows starts from a known fingerprint)."""

from __future__ import annotations

from dataclasses import dataclass

from engines.models import ENGLISH_MODEL
from pipeline import Settings
from pipeline import fingerprint as fingerprint_stage

from ._prepare import prepare
from ._request import JobRequest
from ._runner import initial_state

__all__ = ["DetectedLanguage", "detect_language"]


@dataclass(frozen=True)
class DetectedLanguage:
    code: str  # ISO 639-1, as the job would transcribe it
    probability: float | None  # Whisper's, None where the speech is taken as English unheard
    known: bool  # answered from the store, nothing heard
    note: str | None = None


def detect_language(request: JobRequest, settings: Settings) -> DetectedLanguage:
    """``request``'s speech language; without a multilingual model the job takes speech as
    English, and so does this answer (with the reason)."""
    plan = prepare(request, settings)
    try:
        state = initial_state(plan, request.audio_hash)
        needed = fingerprint_stage.STAGE.needs_compute(plan, state)
        state = fingerprint_stage.STAGE.run(plan, state)
    finally:
        plan.audio.close()
    found = state.fingerprint
    assert found is not None
    if plan.detect_with is None or found.language_detected is None:
        return DetectedLanguage(
            plan.asr.language or "en",
            None,
            not needed,
            f"no multilingual Whisper model: the speech is taken as English ({ENGLISH_MODEL})",
        )
    code = found.language_detected
    return DetectedLanguage(code, found.language_probs.get(code), not needed)
