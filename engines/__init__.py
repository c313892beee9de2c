"""The engines behind one call each: ffmpeg, Chromaprint, WhisperX, transformers.

Nothing here reaches for the network: models load from local paths, and pyannote.audio's
usage telemetry (on by default, sent to its vendor) is switched off before anything can import
it, unless the user chose otherwise (tests/reliability/test_offline.py refuses any
connection that leaves the machine).
"""

import os

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
