"""The engines behind one call each: ffmpeg, Chromaprint, WhisperX, transformers.

Nothing here reaches for the network: models load from local paths, and the usage telemetry
that pyannote.audio (OpenTelemetry) and onnxruntime (Microsoft 1DS, loaded by pyannote) send by
default is switched off before either is imported, unless the user chose otherwise
(tests/reliability/test_offline.py watches every connection of a full job).
"""

import os

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
