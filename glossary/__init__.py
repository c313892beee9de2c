"""Layer 5, the learned glossary: a film's (and the global) character names and cultural terms,
learned from its transcripts, used to respell names and to carry terms through translation.

Its files live under ``{cache_dir}/glossary_learned`` (``GlossaryStore``); film ids name them.
A film's cast (``Cast``) keeps its speakers' voices there too, and the names users give them.
"""

from ._cast import SAME_VOICE, Cast, CastMember
from ._films import movie_id_from_path
from ._learn import LearnReport, extract_character_names, extract_cultural_terms
from ._model import (
    TERM_TYPES,
    Glossary,
    GlossaryEntry,
    GlossaryError,
    GlossaryPolicy,
    TermType,
    check_movie_id,
    term_type,
)
from ._names import NameCorrection, correct_names
from ._protect import Protected, protect, render_terms, split_on_terms
from ._store import GLOBAL_ID, GlossaryStore

__all__ = [
    "GLOBAL_ID",
    "SAME_VOICE",
    "TERM_TYPES",
    "Cast",
    "CastMember",
    "Glossary",
    "GlossaryEntry",
    "GlossaryError",
    "GlossaryPolicy",
    "GlossaryStore",
    "LearnReport",
    "NameCorrection",
    "Protected",
    "TermType",
    "check_movie_id",
    "correct_names",
    "extract_character_names",
    "extract_cultural_terms",
    "movie_id_from_path",
    "protect",
    "render_terms",
    "split_on_terms",
    "term_type",
]
