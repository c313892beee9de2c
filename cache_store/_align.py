"""Align the raw Chromaprint of a new cut of a film with that of a cached cut.

A re-release shares most of its audio with an earlier cut, shifted by scene removals, inserts
and reorders, and sometimes sped up (PAL 25 fps from 23.976 fps film). The shared spans say
which cached ASR segments can be reused and where they now fall.

The method (after Chromaprint's own ``match_fingerprints`` and Haitsma and Kalker):

1. Offset voting: every 16-bit half of every new item is looked up in an index of the old
   halves; each exact hit votes for an offset ``old_index - new_index`` in its block of new
   items. Halves survive noise far better than whole 32-bit items do.
2. Candidate check: an offset voted for in a block is kept only if, near that block, a few
   seconds of items agree at that offset with a low bit-error rate.
3. Segmentation: a Viterbi pass over the kept offsets plus a "not shared" state, each item
   scored by its bit errors against a threshold, with a penalty for every switch. Short runs
   cannot pay for their switches, so noise does not fragment the spans.

A speed change is not searched for here: the caller fingerprints the new audio once per
candidate speed, telling Chromaprint a sample rate divided by that speed (which undoes the
speed-up before the fingerprint is taken), and ``best_alignment`` keeps the best.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "ITEM_SECONDS",
    "Alignment",
    "Span",
    "align",
    "best_alignment",
    "fingerprint_seconds",
    "subhashes",
]

U32 = npt.NDArray[np.uint32]

# libchromaprint's defaults (algorithm TEST2): 11025 Hz, 4096-sample frames overlapping by
# 4096 - 4096 // 3, so one item per 1365 samples.
_RATE = 11025
_FRAME = 4096
_HOP = _FRAME // 3
ITEM_SECONDS = _HOP / _RATE
# Item t's 16 classifiers each give 2 bits (the first classifier the top two) from chroma frames
# t .. t + width - 1, each of which is a 5-tap filter over raw frames: so classifier c reads the
# audio from hop t up to hop t + width[c] + 4 + 3 (a raw frame is three hops long).
_WIDTHS = np.array([15, 15, 16, 12, 8, 5, 9, 4, 16, 2, 15, 10, 14, 4, 12, 14])
_READS = _WIDTHS + 4 + _FRAME // _HOP
_ITEM_FRAMES = int(_WIDTHS.max()) + 4  # raw frames behind one item
# A shared stretch's bits change as its classifiers' windows pass an edit: on average this many
# items after the item starting at the edit.
_EDIT_LAG = round(float(_READS.mean()) / 2)

_BLOCK = 32  # new items per voting block (~4 s)
_MAX_KEY_HITS = 64  # halves this frequent in the old cut (silence, hum) carry no information
_MIN_VOTES = 2
_CHECK_ITEMS = 16  # a candidate offset must agree on this many items in a row (~2 s) ...
_CHECK_MARGIN = 2 * _BLOCK  # ... somewhere within this many items of the block that voted
_SWITCH_PENALTY = 48.0  # in bits: what a change of offset (or into/out of no match) costs


@dataclass(frozen=True)
class Span:
    """A stretch of new audio heard in the old cut too, in seconds on each side."""

    new_start: float
    new_end: float
    old_start: float
    old_end: float

    @property
    def scale(self) -> float:
        """Old seconds per new second: 1.0 unless the new cut plays at another speed."""
        return (self.old_end - self.old_start) / (self.new_end - self.new_start)

    def to_old(self, t: float) -> float:
        return self.old_start + (t - self.new_start) * self.scale

    def to_new(self, t: float) -> float:
        return self.new_start + (t - self.old_start) / self.scale


@dataclass(frozen=True)
class Alignment:
    spans: tuple[Span, ...]  # sorted by new_start, disjoint in new time
    new_seconds: float
    old_seconds: float
    speed: float  # old seconds per new second: 25 / 23.976 for a PAL speed-up of film

    @property
    def shared_seconds(self) -> float:
        return sum(s.new_end - s.new_start for s in self.spans)

    @property
    def shared_ratio(self) -> float:
        """Share of the new audio also heard in the old cut: what can be reused."""
        return self.shared_seconds / self.new_seconds if self.new_seconds > 0 else 0.0


def fingerprint_seconds(items: int) -> float:
    """Audio length behind ``items`` raw items (to within one item) at the declared rate."""
    if items <= 0:
        return 0.0
    return ((items + _ITEM_FRAMES - 2) * _HOP + _FRAME + _HOP / 2) / _RATE


def _as_u32(fp: Sequence[int] | npt.NDArray[np.integer]) -> U32:
    arr = np.asarray(fp)
    if arr.dtype == np.uint32:
        return arr
    return (arr.astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)


def _halves(fp: U32) -> npt.NDArray[np.int64]:
    """Both 16-bit halves of each item as keys in one space: high half + 2**16 for the low."""
    keys = np.empty((len(fp), 2), dtype=np.int64)
    keys[:, 0] = fp >> 16
    keys[:, 1] = (fp & 0xFFFF).astype(np.int64) + (1 << 16)
    return keys


def _old_index(t: npt.NDArray[np.int64], warp: float, d: int) -> npt.NDArray[np.int64]:
    """The old item compared with new item ``t`` at offset ``d``."""
    base = t if warp == 1.0 else np.rint(t * warp).astype(np.int64)
    out: npt.NDArray[np.int64] = base + d
    return out


def _votes(new: U32, old: U32, warp: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(block, offset) pairs voted for by exact half matches, at least ``_MIN_VOTES`` each."""
    old_keys = _halves(old).ravel()
    all_counts = np.bincount(old_keys, minlength=1 << 17)
    counts = np.where(all_counts > _MAX_KEY_HITS, 0, all_counts)
    order = np.argsort(old_keys, kind="stable")
    starts = np.concatenate(([0], np.cumsum(all_counts)))
    new_keys = _halves(new).ravel()
    hits = counts[new_keys]
    total = int(hits.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    # Expand every new key into its run of old positions, without a Python loop.
    src = np.repeat(np.arange(len(new_keys)), hits)
    first = np.repeat(np.cumsum(hits) - hits, hits)
    within = np.arange(total) - first
    old_pos = order[starts[new_keys[src]] + within] // 2
    new_pos = src // 2
    offset = old_pos - _old_index(new_pos, warp, 0)
    span = len(new) + len(old)
    code = (new_pos // _BLOCK) * span + (offset + len(new))
    uniq, n = np.unique(code, return_counts=True)
    uniq = uniq[n >= _MIN_VOTES]
    return uniq // span, uniq % span - len(new)


def _errors(new: U32, old: U32, warp: float, d: int, lo: int, hi: int) -> npt.NDArray[np.uint8]:
    """Bit errors of new[lo:hi] against old at offset d; 32 where old has no item."""
    j = _old_index(np.arange(lo, hi), warp, d)
    inside = (j >= 0) & (j < len(old))
    out = np.full(hi - lo, 32, dtype=np.uint8)
    out[inside] = np.bitwise_count(new[lo:hi][inside] ^ old[j[inside]])
    return out


def _candidates(new: U32, old: U32, warp: float, threshold: float) -> list[int]:
    """Offsets that agree over ``_CHECK_ITEMS`` items near a block that voted for them."""
    blocks, offsets = _votes(new, old, warp)
    kept: set[int] = set()
    kernel = np.ones(_CHECK_ITEMS) / _CHECK_ITEMS
    for block, d in zip(blocks.tolist(), offsets.tolist(), strict=True):
        if d in kept:
            continue
        lo = max(0, block * _BLOCK - _CHECK_MARGIN)
        hi = min(len(new), (block + 1) * _BLOCK + _CHECK_MARGIN)
        err = _errors(new, old, warp, d, lo, hi)
        if len(err) >= _CHECK_ITEMS and np.convolve(err, kernel, "valid").min() <= threshold:
            kept.add(d)
    return sorted(kept)


def _segment(cost: npt.NDArray[np.float32], penalty: float) -> npt.NDArray[np.int64]:
    """Viterbi over states (0 = no match, k = offset k-1): the cheapest state per item."""
    steps, states = cost.shape
    switched = np.zeros((steps, states), dtype=bool)
    came_from = np.zeros(steps, dtype=np.int64)
    acc = cost[0].copy()
    for t in range(1, steps):
        j = int(acc.argmin())
        via = acc[j] + penalty
        sw = acc > via
        switched[t] = sw
        came_from[t] = j
        acc = np.where(sw, via, acc) + cost[t]
    path = np.empty(steps, dtype=np.int64)
    state = int(acc.argmin())
    for t in range(steps - 1, -1, -1):
        path[t] = state
        if t and switched[t, state]:
            state = int(came_from[t])
    return path


def align(
    new: Sequence[int] | npt.NDArray[np.integer],
    old: Sequence[int] | npt.NDArray[np.integer],
    *,
    speed: float = 1.0,
    warp: float = 1.0,
    min_span_seconds: float = 3.0,
    max_bit_error: float = 0.28,
) -> Alignment:
    """Spans of ``new`` audio also in ``old``, from their raw Chromaprint items.

    ``speed``: ``new`` was fingerprinted with its sample rate declared as ``rate / speed``
    (1.0: as is), which undoes a speed-up by resampling (PAL: pitch raised with the tempo).
    ``warp``: compare new item ``t`` with old item ``t * warp``, for a tempo change that kept
    the pitch (a time-stretch), where a rescaled sample rate would shift every chroma note.
    ``max_bit_error``: the share of an item's 32 bits that may differ in shared audio. Shared
    audio differs in ~1% (re-encoded) to ~17% (noise at 3 dB SNR); unrelated speech with the
    same voice and background still differs in ~44%, so the default sits between.
    """
    a, b = _as_u32(new), _as_u32(old)
    new_seconds = fingerprint_seconds(len(a)) / speed
    old_seconds = fingerprint_seconds(len(b))
    factor = speed * warp
    threshold = max_bit_error * 32
    offsets = _candidates(a, b, warp, threshold) if len(a) and len(b) else []
    if not offsets:
        return Alignment((), new_seconds, old_seconds, factor)
    cost = np.zeros((len(a), len(offsets) + 1), dtype=np.float32)
    for k, d in enumerate(offsets, start=1):
        cost[:, k] = _errors(a, b, warp, d, 0, len(a)) - threshold
    runs = _runs(_segment(cost, _SWITCH_PENALTY), offsets)
    edges = _edges(a, b, warp, runs, threshold / 32)
    spans = []
    for (_lo, _hi, d0, d1), (x0, x1) in zip(runs, edges, strict=True):
        span = _span(x0, x1, d0, d1, speed, warp, new_seconds, old_seconds)
        if span.new_end - span.new_start >= min_span_seconds:
            spans.append(span)
    return Alignment(tuple(spans), new_seconds, old_seconds, factor)


def _runs(path: npt.NDArray[np.int64], offsets: list[int]) -> list[tuple[int, int, int, int]]:
    """(first item, end item, offset at start, offset at end) of each matched run.

    Neighbouring runs whose offsets differ by one item are one run: their audio straddles the
    item grid, or drifts by a residual speed error.
    """
    change = np.flatnonzero(np.diff(path)) + 1
    bounds = np.concatenate(([0], change, [len(path)])).tolist()
    runs: list[tuple[int, int, int, int]] = []
    for lo, hi in itertools.pairwise(bounds):
        state = int(path[lo])
        if state == 0:
            continue
        d = offsets[state - 1]
        if runs and runs[-1][1] == lo and abs(runs[-1][3] - d) <= 1:
            runs[-1] = (runs[-1][0], hi, runs[-1][2], d)
        else:
            runs.append((lo, hi, d, d))
    return runs


def _classifier_errors(
    new: U32, old: U32, warp: float, d: int | None, lo: int, hi: int
) -> npt.NDArray[np.float64]:
    """Differing bits (0-2) of each classifier of new items [lo, hi) at offset d."""
    if d is None:
        return np.zeros((hi - lo, len(_WIDTHS)))
    j = _old_index(np.arange(lo, hi), warp, d)
    inside = (j >= 0) & (j < len(old))
    x = np.zeros(hi - lo, dtype=np.uint32)
    x[inside] = new[lo:hi][inside] ^ old[j[inside]]
    x[~inside] = 0xFFFFFFFF
    shifts = (2 * (len(_WIDTHS) - 1 - np.arange(len(_WIDTHS)))).astype(np.uint32)
    pair = (x[:, None] >> shifts) & 3
    return (pair & 1) + (pair >> 1)


def _edit_point(
    new: U32,
    old: U32,
    warp: float,
    before: int | None,
    after: int | None,
    guess: int,
    lo: int,
    hi: int,
    tau: float,
) -> int:
    """The hop in [lo, hi] where new audio switches from offset ``before`` to ``after``.

    Each classifier bit is read from a known window of hops, so for an edit at hop ``e`` the
    bits wholly before it should match at ``before`` and those wholly after it at ``after``
    (``None``: unshared, scoring 0); bits whose window spans the edit are ignored. The edit is
    the ``e`` minimising the sum of (differing bits - tau) over the bits said to match.
    """
    lo, hi = max(lo, guess - _EDIT_LAG), min(hi, guess + _EDIT_LAG)
    if lo >= hi:
        return max(lo, min(hi, guess))
    first, last = max(0, lo - int(_READS.max())), min(len(new), hi)
    err_before = _classifier_errors(new, old, warp, before, first, last) - tau
    err_after = _classifier_errors(new, old, warp, after, first, last) - tau
    t = np.arange(first, last)
    cand = np.arange(lo, hi + 1)
    # Before-side bits of item t end at hop t + reads[c]: they count when that is <= e.
    ends = t[:, None] + _READS[None, :]
    before_cost = np.array([err_before[ends <= e].sum() for e in cand.tolist()])
    # After-side bits count for items starting at or after e.
    tail = np.concatenate((np.cumsum(err_after.sum(axis=1)[::-1])[::-1], [0.0]))
    after_cost = tail[np.clip(cand - first, 0, len(t))]
    return int(cand[int(np.argmin(before_cost + after_cost))])


def _edges(
    new: U32, old: U32, warp: float, runs: list[tuple[int, int, int, int]], tau: float
) -> list[tuple[float, float]]:
    """Start and end (in hops of the new audio) of each run's audio.

    The segmentation switches state where whole items change sides of an edit, about
    ``_EDIT_LAG`` items before the edit itself; :func:`_edit_point` then places it to the hop.
    """
    items = len(new)
    end_of_audio = items + _ITEM_FRAMES - 1 + _FRAME / _HOP
    edges = [[0.0, end_of_audio] for _ in runs]
    for k, (lo, hi, d0, d1) in enumerate(runs):
        prev = runs[k - 1] if k else None
        follows = prev is not None and prev[1] == lo  # no unshared audio in between
        if lo > 0:
            edit = _edit_point(
                new,
                old,
                warp,
                prev[3] if prev is not None and follows else None,
                d0,
                lo + _EDIT_LAG,
                int(edges[k - 1][0]) + 1 if prev is not None else 0,
                hi + _EDIT_LAG,
                tau,
            )
            edges[k][0] = edit
            if follows:
                edges[k - 1][1] = edit
        nxt = runs[k + 1] if k + 1 < len(runs) else None
        if hi < items and not (nxt is not None and nxt[0] == hi):
            ceiling = nxt[0] + _EDIT_LAG if nxt is not None else items + _ITEM_FRAMES
            edges[k][1] = _edit_point(
                new, old, warp, d1, None, hi + _EDIT_LAG, int(edges[k][0]) + 1, ceiling, tau
            )
    return [(x0, x1) for x0, x1 in edges]


def _span(
    x0: float,
    x1: float,
    d0: int,
    d1: int,
    speed: float,
    warp: float,
    new_seconds: float,
    old_seconds: float,
) -> Span:
    """Seconds on both sides for new hops [x0, x1), clipped to both recordings.

    A new hop ``x`` (at the declared sample rate) is old hop ``x * warp + d``.
    """
    t0, t1 = x0 * ITEM_SECONDS, min(x1 * ITEM_SECONDS, new_seconds * speed)
    y0 = (x0 * warp + d0) * ITEM_SECONDS
    y1 = (x1 * warp + d1) * ITEM_SECONDS - (x1 * ITEM_SECONDS - t1) * warp
    if y0 < 0:
        t0, y0 = t0 - y0 / warp, 0.0
    if y1 > old_seconds:
        t1, y1 = t1 - (y1 - old_seconds) / warp, old_seconds
    return Span(t0 / speed, t1 / speed, y0, y1)


def best_alignment(
    candidates: Mapping[float, Sequence[int] | npt.NDArray[np.integer]],
    old: Sequence[int] | npt.NDArray[np.integer],
) -> Alignment:
    """The alignment sharing the most audio among new fingerprints taken at several speeds.

    ``candidates`` maps a speed to the new audio's fingerprint computed with its sample rate
    declared as ``rate / speed``: e.g. ``{1.0: fp, 25 / 23.976: fp_pal, 23.976 / 25: fp_ntsc}``
    for a film that may have been sped up to 25 fps from film (or slowed down from PAL). Each is
    tried as is (a resampled speed change), and the 1.0 fingerprint is also tried warped to
    every other speed (a time-stretch that kept the pitch).
    """
    if not candidates:
        raise ValueError("best_alignment needs at least one candidate fingerprint")
    tries = [align(fp, old, speed=speed) for speed, fp in candidates.items()]
    native = candidates.get(1.0)
    if native is not None:
        tries += [align(native, old, warp=speed) for speed in candidates if speed != 1.0]
    return max(tries, key=lambda r: r.shared_seconds)


def subhashes(fp: Sequence[int] | npt.NDArray[np.integer], every: int = 4) -> U32:
    """Sampled 20-bit keys of a fingerprint, for finding a film's other cuts among many.

    The caller keeps an inverted index (a table ``subhash -> audio_hash``) of every stored
    film's keys; a new film's keys are looked up there, and the films sharing the most keys
    (a few hundred of a film's ~14,000 is chance) are the ones worth an ``align``.

    Items are sampled by value, not position (a key is kept when a hash of it is 0 modulo
    ``every``), so two cuts sample the same items whatever their edits; keys are the top 20
    bits (10 of the 16 classifiers), which survive re-encoding more often than a whole item.
    """
    keys = _as_u32(fp) >> 12
    mixed = (keys.astype(np.uint64) * np.uint64(0x9E3779B1)) >> np.uint64(16)
    return np.unique(keys[(mixed % np.uint64(every)) == 0])
