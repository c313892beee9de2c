"""The bundled multilingual Whisper as a job on this CPU runs it, for engine tests and
benchmarks that call the engines directly."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from engines.asr import AsrSettings
from engines.models import MULTILINGUAL_MODEL, resolve_model


def base_settings(language: str | None, **changes: Any) -> AsrSettings:
    """Whisper base at ``language`` (None: to be detected), the job's defaults, ``changes``
    applied."""
    model = resolve_model("whisperx", MULTILINGUAL_MODEL, {}, Path(os.devnull), "X")
    settings = AsrSettings(
        model=model,
        language=language,
        device="cpu",
        compute_type="int8",
        batch_size=8,
        beam_size=5,
        best_of=5,
        temperature=0.0,
        vad_method="pyannote",
        vad_onset=0.5,
        vad_offset=0.363,
        threads=0,
    )
    return dataclasses.replace(settings, **changes)
