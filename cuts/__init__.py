"""Other cuts of a film (a TV edit, a director's cut, a PAL release): found among the stored
films by their Chromaprint subhashes, aligned span by span, and what of their transcript and
speaker turns a new cut may reuse; the film and settings a cut inherits are kept as its
``CutLink``."""

from ._align import ITEM_SECONDS, Alignment, Span, align, best_alignment
from ._cuts import OUTBOX_KIND, Cuts
from ._links import CutLink, CutLinks
from ._reuse import ReusePlan, merge_segments, plan_reuse, split_ranges
from ._similar import BANDS, LENDING_BANDS, SPEEDS, Band, SimilarJob, band_for, compare, similarity
from ._subhashes import subhashes
from ._turns import TurnReuse, merge_turns, plan_turn_reuse

__all__ = [
    "BANDS",
    "ITEM_SECONDS",
    "LENDING_BANDS",
    "OUTBOX_KIND",
    "SPEEDS",
    "Alignment",
    "Band",
    "CutLink",
    "CutLinks",
    "Cuts",
    "ReusePlan",
    "SimilarJob",
    "Span",
    "TurnReuse",
    "align",
    "band_for",
    "best_alignment",
    "compare",
    "merge_segments",
    "merge_turns",
    "plan_reuse",
    "plan_turn_reuse",
    "similarity",
    "split_ranges",
    "subhashes",
]
