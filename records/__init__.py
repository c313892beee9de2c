"""The typed records that cross module lines: imported by everything, importing nothing of ours.

Each serialises to JSON only where it is stored or sent (``to_dict``/``from_dict``, ``row``).
"""

from ._jobs import JobFeatures, JobOutcome, JobRecord
from ._media import (
    AudioFingerprint,
    Diarization,
    NoiseProfile,
    Segment,
    SpeakerTurn,
    Transcript,
    Word,
)
from ._text import INDIC_SCRIPTS, indic_language, romanized, spoken_words

__all__ = [
    "INDIC_SCRIPTS",
    "AudioFingerprint",
    "Diarization",
    "JobFeatures",
    "JobOutcome",
    "JobRecord",
    "NoiseProfile",
    "Segment",
    "SpeakerTurn",
    "Transcript",
    "Word",
    "indic_language",
    "romanized",
    "spoken_words",
]
