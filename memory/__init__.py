"""Layer 4, the translation memory: every translated segment kept with its context, matched in
tiers (context, exact, fuzzy) before any model is asked, and moved in and out as TMX 1.4."""

from ._entry import HUMAN, TM_COLUMNS, TmContext, TmEntry, TmMatch, TmPolicy, canonical, normalise
from ._matcher import TranslationMemory
from ._memory import OUTBOX_KIND, Memory
from ._tmx import TmxError, read_tmx, write_tmx

__all__ = [
    "HUMAN",
    "OUTBOX_KIND",
    "TM_COLUMNS",
    "Memory",
    "TmContext",
    "TmEntry",
    "TmMatch",
    "TmPolicy",
    "TmxError",
    "TranslationMemory",
    "canonical",
    "normalise",
    "read_tmx",
    "write_tmx",
]
