"""Align the raw Chromaprint of a new cut of a film with that of a cached cut.

A re-release shares most of its audio with an earlier cut, moved about by scene removals,
inserts and reorders, and sometimes sped up (PAL 25 fps from 23.976 fps film). The shared spans
say which cached ASR segments can be reused and where they now fall.

1. Offset voting: four 16-bit keys of each new item (its bits from every 8th on) are looked up
   among the old items' keys, and every exact hit votes for an offset (old item - new item) in
   its block of 32 new items. One intact key is enough, so noisy items still vote, while chance
   hits scatter over all offsets.
2. Candidate check: a block's most voted offsets are scored over the items around it; one that
   somewhere earns at least a switch's penalty is allowed there. Offsets stay local, so an item
   has a handful of states even when a long film has thousands of plausible offsets.
3. Segmentation: a Viterbi pass over "not shared" and the allowed offsets scores each item by
   its differing bits against a threshold and charges for every switch, so noise cannot break
   a span and a few lucky items cannot make one.
4. Edit placement: the segmentation switches where whole items (2.7 s of audio each) change
   sides; each classifier's 2 bits read a known, shorter window, so the edit is placed to the
   item (0.12 s) by asking which bits fit the offset before it and which the one after.

A speed change is not searched for blindly: :func:`best_alignment` takes the new audio's
fingerprints computed at candidate speeds (a sample rate declared as ``rate / speed`` undoes a
resampled speed-up, pitch and all) and also tries the plain one with its item times stretched
(a tempo change that kept the pitch, which a declared rate would detune).

An edit inside a pause cannot be placed within the pause: Chromaprint normalises each frame's
chroma, so a quiet frame next to a loud one reads as the loud one. Edits in speech are placed
to within ~0.2 s; edits in a pause land somewhere in it (where no ASR segment lies anyway).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "ITEM_SECONDS",
    "U32",
    "Alignment",
    "Fingerprint",
    "Span",
    "align",
    "as_u32",
    "best_alignment",
]

U32 = npt.NDArray[np.uint32]
Fingerprint = Sequence[int] | npt.NDArray[np.integer]

# libchromaprint's defaults (algorithm TEST2, fpcalc's): audio resampled to 11025 Hz, frames of
# 4096 samples overlapping by 4096 - 4096 // 3, so one item per 1365 samples (not 4096 / 3: the
# 0.02% matters over a film). An item's 32 bits come from 16 classifiers, 2 bits each (the first
# classifier's in the top bits), each reading this many chroma frames:
_RATE = 11025
_FRAME = 4096
_HOP = _FRAME - (_FRAME - _FRAME // 3)
ITEM_SECONDS = _HOP / _RATE
_WIDTHS = np.array([15, 15, 16, 12, 8, 5, 9, 4, 16, 2, 15, 10, 14, 4, 12, 14])
# Measured on espeak-ng edits: classifier c of item t reads the audio from hop t + 3 up to hop
# t + width + 3 (the 5-tap chroma filter and 3-hop frames blur this by a hop or two either way).
_READ_FROM = np.full(16, 3)
_READ_TO = _WIDTHS + 3
# The audio behind one item, in hops: 20 frames (5-tap chroma filter, classifiers up to 16
# frames wide) a hop apart, the last one 3 hops long.
_ITEM_HOPS = int(_WIDTHS.max()) + 4 - 1 + _FRAME / _HOP
# The segmentation switches state this many items before the edit (half a classifier's reach).
_EDIT_LAG = round(float((_READ_FROM + _READ_TO).mean()) / 2)

_KEYS = 4  # 16-bit keys per item, one every 8 bits: a noisy item may keep one intact
_BLOCK = 32  # new items per voting block (~4 s)
_MAX_KEY_HITS = 64  # keys this common in the old cut (silence, hum) carry no information
_MIN_VOTES = 2
_TOP_CELLS = 8  # offsets per block worth checking: the most voted for
_REACH = 2  # blocks either side of a voting block where its offset is checked and allowed
_SWITCH_PENALTY = 48.0  # in differing bits: what a change of offset (or of sharedness) costs
_UNSHARED = int(np.iinfo(np.int64).min)  # the state of audio not in the old cut, below any offset
# A steady alignment: this share of the new audio shared, in spans this long on average (a
# cut of scenes runs minutes between edits; a 4% tempo change drifts an item every 3 s), whose
# offsets hold (edges placed to an item leave well under 1% over 20 s).
_STEADY_SHARE = 0.5
_STEADY_SPAN_SECONDS = 20.0
_STEADY_DRIFT = 0.01  # spans' old seconds per new second this far off the speed: a creeping offset


@dataclass(frozen=True)
class Span:
    """A stretch of new audio also heard in the old cut, in seconds on each side."""

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
    new_seconds: float  # both lengths are estimated from the item counts, to within an item
    old_seconds: float
    speed: float  # old seconds per new second: 25 / 23.976 when the new cut is PAL of film

    @property
    def shared_seconds(self) -> float:
        return sum(s.new_end - s.new_start for s in self.spans)

    @property
    def shared_ratio(self) -> float:
        """The share of the new audio also in the old cut: what its ASR can reuse."""
        return self.shared_seconds / self.new_seconds if self.new_seconds > 0 else 0.0

    @property
    def steady(self) -> bool:
        """Most of the new audio in long spans that keep their offset: a cut at the old one's
        speed, which no other speed would explain better. A tempo change that kept the pitch
        still matches at the old speed, but in spans that creep or break every few seconds."""
        if not self.spans or self.shared_ratio < _STEADY_SHARE:
            return False
        old = sum(s.old_end - s.old_start for s in self.spans)
        drift = abs(old / self.shared_seconds / self.speed - 1.0)  # spans whose offset creeps
        return (
            drift <= _STEADY_DRIFT and self.shared_seconds / len(self.spans) >= _STEADY_SPAN_SECONDS
        )


def _seconds(items: int) -> float:
    """Length of the audio behind ``items`` items (at the declared rate), to within an item."""
    return (items - 1 + _ITEM_HOPS + 0.5) * ITEM_SECONDS if items > 0 else 0.0


def as_u32(fp: Fingerprint) -> U32:
    arr = np.asarray(fp)
    if arr.dtype == np.uint32:
        return arr
    return (arr.astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)  # signed readings of the bits


def _old_index(t: npt.NDArray[np.int64], warp: float, d: int) -> npt.NDArray[np.int64]:
    """The old item that new item ``t`` is compared with at offset ``d``."""
    base = t if warp == 1.0 else np.rint(t * warp).astype(np.int64)
    out: npt.NDArray[np.int64] = base + d
    return out


def _keys(fp: U32) -> npt.NDArray[np.int64]:
    """``_KEYS`` 16-bit keys per item, each from its own bits (rotated), in one key space."""
    wide = fp.astype(np.uint64)
    wide |= wide << np.uint64(32)  # rotations as plain shifts
    keys = np.empty((len(fp), _KEYS), dtype=np.int64)
    for k in range(_KEYS):
        keys[:, k] = ((wide >> np.uint64(k * 32 // _KEYS)) & np.uint64(0xFFFF)).astype(np.int64)
        keys[:, k] += k << 16
    return keys.ravel()


def _votes(new: U32, old: U32, warp: float) -> tuple[npt.NDArray[np.int64], ...]:
    """Blocks, offsets and vote counts of cells with ``_MIN_VOTES`` exact key matches around."""
    old_keys = _keys(old)
    counts = np.bincount(old_keys, minlength=_KEYS << 16)
    starts = np.concatenate(([0], np.cumsum(counts)))
    order = np.argsort(old_keys, kind="stable")
    new_keys = _keys(new)
    hits = np.where(counts > _MAX_KEY_HITS, 0, counts)[new_keys]
    total = int(hits.sum())
    # Every hit of every new key: its old position, without a Python loop.
    src = np.repeat(np.arange(len(new_keys)), hits)
    within = np.arange(total) - np.repeat(np.cumsum(hits) - hits, hits)
    old_pos = order[starts[new_keys[src]] + within] // _KEYS
    new_pos = src // _KEYS
    offset = old_pos - _old_index(new_pos, warp, 0)
    # One cell per (block, offset), with an empty cell all round.
    width = len(new) + len(old) + 2
    code, n = np.unique((new_pos // _BLOCK + 1) * width + offset + len(new) + 1, return_counts=True)
    # A piece's votes may straddle two blocks, and its offset two (when the cuts' item grids
    # are a fraction of an item apart): a cell counts its neighbours' votes as its own.
    steps = np.array([-width, 0, width])[:, None] + np.array([-1, 0, 1])[None, :]
    cells, inverse = np.unique((code[:, None] + steps.ravel()).ravel(), return_inverse=True)
    around = np.bincount(inverse, np.repeat(n, steps.size))[np.searchsorted(cells, code)]
    keep = around >= _MIN_VOTES
    code, around = code[keep], around[keep].astype(np.int64)
    return code // width - 1, code % width - len(new) - 1, around


def _errors(
    new: U32, old: U32, warp: float, offsets: npt.NDArray[np.int64], lo: int, hi: int
) -> npt.NDArray[np.uint8]:
    """Differing bits of new items [lo, hi) at each offset (a column each); 32 off old's end."""
    t = np.arange(lo, hi)
    j = _old_index(t[:, None], warp, 0) + offsets[None, :]
    inside = (j >= 0) & (j < len(old))
    out = np.full(j.shape, 32, dtype=np.uint8)
    out[inside] = np.bitwise_count(
        new[np.broadcast_to(t[:, None], j.shape)[inside]] ^ old[j[inside]]
    )
    return out


def _allowed(new: U32, old: U32, warp: float, threshold: float) -> list[npt.NDArray[np.int64]]:
    """Per block of new items, the offsets the segmentation may use there.

    A block's most voted-for offsets are checked over the items within ``_REACH`` blocks: one
    that somewhere gains at least a switch's penalty (bits below the threshold, summed over a
    stretch) is allowed in all those blocks. Offsets stay local, so a long film with thousands
    of plausible offsets still gives each item only a handful of states.
    """
    n_blocks = -(-len(new) // _BLOCK)
    allowed: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)] * n_blocks
    blocks, offsets, votes = _votes(new, old, warp)
    if not len(blocks):
        return allowed
    order = np.lexsort((-votes, blocks))
    rank = np.arange(len(order)) - np.searchsorted(blocks[order], blocks[order])
    blocks, offsets = blocks[order][rank < _TOP_CELLS], offsets[order][rank < _TOP_CELLS]
    # Each cell's stretch of items, as one matrix: cells x items.
    span = (2 * _REACH + 1) * _BLOCK
    lo = (blocks - _REACH) * _BLOCK
    t = lo[:, None] + np.arange(span)[None, :]
    j = _old_index(t, warp, 0) + offsets[:, None]
    inside = (t >= 0) & (t < len(new)) & (j >= 0) & (j < len(old))
    err = np.full(t.shape, 32, dtype=np.uint8)
    err[inside] = np.bitwise_count(new[t[inside]] ^ old[j[inside]])
    gain = np.concatenate((np.zeros((len(t), 1)), np.cumsum(threshold - err, axis=1)), axis=1)
    best = (gain - np.minimum.accumulate(gain, axis=1)).max(axis=1)
    ok = best >= _SWITCH_PENALTY
    near = (blocks[ok][:, None] + np.arange(-_REACH, _REACH + 1)[None, :]).ravel()
    offsets = np.repeat(offsets[ok], 2 * _REACH + 1)
    inside_blocks = (near >= 0) & (near < n_blocks)
    pairs = np.unique(np.column_stack((near[inside_blocks], offsets[inside_blocks])), axis=0)
    for block, group in itertools.groupby(pairs.tolist(), key=lambda pair: pair[0]):
        allowed[block] = np.array([d for _b, d in group], dtype=np.int64)
    return allowed


def _segment(
    new: U32, old: U32, warp: float, threshold: float, allowed: list[npt.NDArray[np.int64]]
) -> tuple[npt.NDArray[np.int64], float]:
    """Viterbi over "not shared" and each block's allowed offsets: the cheapest path, its cost.

    An item costs its differing bits less the threshold (0 when not shared); each change of
    state costs ``_SWITCH_PENALTY``. Returns each item's offset (``_UNSHARED`` where none).
    """
    steps = len(new)
    states: list[npt.NDArray[np.int64]] = []  # per block: "not shared", then its offsets
    switched: list[npt.NDArray[np.bool_]] = []  # per item: which states were switched into
    came_from = np.zeros(steps, dtype=np.int64)  # per item: the state any switch came from
    acc = np.zeros(1)
    for block, offsets in enumerate(allowed):
        lo, hi = block * _BLOCK, min(steps, (block + 1) * _BLOCK)
        here = np.concatenate(([_UNSHARED], offsets))
        cost = np.zeros((hi - lo, len(here)))
        cost[:, 1:] = _errors(new, old, warp, offsets, lo, hi) - threshold
        if block == 0:
            acc = cost[0].copy()  # any state may open the film
            switched.append(np.zeros(len(here), dtype=bool))
        else:
            # A state of the last block carries its cost over; a new one must switch in.
            before = states[-1]
            carried = np.full(len(here), np.inf)
            _common, mine, theirs = np.intersect1d(here, before, return_indices=True)
            carried[mine] = acc[theirs]
            j = int(acc.argmin())
            via = acc[j] + _SWITCH_PENALTY
            switched.append(sw := carried > via)
            came_from[lo] = before[j]
            acc = np.where(sw, via, carried) + cost[0]
        for i in range(1, hi - lo):
            j = int(acc.argmin())
            via = acc[j] + _SWITCH_PENALTY
            switched.append(sw := acc > via)
            came_from[lo + i] = here[j]
            acc = np.where(sw, via, acc) + cost[i]
        states.append(here)
    path = np.empty(steps, dtype=np.int64)
    k = int(acc.argmin())
    total, state = float(acc[k]), int(states[-1][k])
    for t in range(steps - 1, -1, -1):
        path[t] = state
        if switched[t][int(np.searchsorted(states[t // _BLOCK], state))]:
            state = int(came_from[t])
    return path, total


def _runs(path: npt.NDArray[np.int64]) -> list[tuple[int, int, int, int]]:
    """(first item, end item, offset at its start, offset at its end) of each shared run.

    Neighbouring runs whose offsets differ by one item are one run: their audio straddles the
    item grid, or drifts by what is left of a speed change.
    """
    bounds = [0, *(np.flatnonzero(np.diff(path)) + 1).tolist(), len(path)]
    runs: list[tuple[int, int, int, int]] = []
    for lo, hi in itertools.pairwise(bounds):
        if (d := int(path[lo])) == _UNSHARED:
            continue
        if runs and runs[-1][1] == lo and abs(runs[-1][3] - d) <= 1:
            runs[-1] = (runs[-1][0], hi, runs[-1][2], d)
        else:
            runs.append((lo, hi, d, d))
    return runs


def _classifier_fit(
    new: U32, old: U32, warp: float, d: int, lo: int, hi: int, tau: float
) -> npt.NDArray[np.float64]:
    """Per classifier of new items [lo, hi): differing bits (0-2) at offset ``d`` less tau.

    Negative where the classifier agrees; 0 (no evidence) where old has no item.
    """
    j = _old_index(np.arange(lo, hi), warp, d)
    inside = (j >= 0) & (j < len(old))
    x = np.zeros(hi - lo, dtype=np.uint32)
    x[inside] = new[lo:hi][inside] ^ old[j[inside]]
    shifts = (2 * np.arange(len(_WIDTHS) - 1, -1, -1)).astype(np.uint32)
    pair = (x[:, None] >> shifts) & 3
    fit = ((pair & 1) + (pair >> 1)) - tau
    fit[~inside] = 0.0
    return fit


def _edit_point(
    new: U32,
    old: U32,
    warp: float,
    before: int | None,
    after: int | None,
    guess: int,
    window: tuple[int, int],
    items: tuple[int, int],
    tau: float,
) -> int:
    """The hop in ``window`` where new audio goes from offset ``before`` to ``after``.

    ``None`` is unshared audio, which no bit fits. For an edit at hop ``e``, classifier bits
    that read only audio before ``e`` should fit ``before``, those reading only audio after it
    should fit ``after``, and those straddling it are ignored: ``e`` is the hop where the fitting
    bits fit best. Only ``items`` (those of the runs or gaps either side) are asked.
    """
    lo, hi = window
    first = max(0, items[0], lo - int(_READ_TO.max()))
    last = min(len(new), items[1], hi)
    if lo >= hi or first >= last:
        return lo
    edits = np.arange(lo, hi + 1)
    cost = np.zeros(len(edits))
    t = np.arange(first, last)[:, None]
    if before is not None:
        # Bits reading only audio before e (up to hop t + _READ_TO[c] <= e) should fit it.
        fit = _classifier_fit(new, old, warp, before, first, last, tau)
        at = np.clip(t + _READ_TO - lo, 0, len(edits)).ravel()
        cost += np.cumsum(np.bincount(at, fit.ravel(), minlength=len(edits) + 1))[:-1]
    if after is not None:
        # Bits reading only audio after e (from hop t + _READ_FROM[c] >= e) should fit it.
        fit = _classifier_fit(new, old, warp, after, first, last, tau)
        at = (t + _READ_FROM - lo).ravel()
        keep = at >= 0
        sums = np.bincount(
            np.minimum(at[keep], len(edits)), fit.ravel()[keep], minlength=len(edits) + 1
        )
        cost += np.cumsum(sums[::-1])[::-1][:-1]
    best = np.flatnonzero(cost <= cost.min() + 1e-6)  # of equals, the one nearest the guess
    return int(edits[best[np.argmin(np.abs(edits[best] - guess))]])


def _edges(
    new: U32, old: U32, warp: float, runs: list[tuple[int, int, int, int]], tau: float
) -> list[tuple[float, float]]:
    """Start and end, in hops of the new audio, of each run's audio."""
    items = len(new)
    edges = [[0.0, items + _ITEM_HOPS] for _ in runs]  # past the end: clipped to it
    reach = 2 * _EDIT_LAG  # how far from the segmentation's guess an edit is looked for
    for k, (lo, hi, d0, d1) in enumerate(runs):
        prev = runs[k - 1] if k else None
        follows = prev is not None and prev[1] == lo  # no unshared audio in between
        if lo > 0:
            guess = lo + _EDIT_LAG
            # After the previous run's start if it runs up to here, else after its end.
            floor = 0 if not k else int(edges[k - 1][0]) + 1 if follows else int(edges[k - 1][1])
            window = (max(floor, guess - reach), min(hi + _EDIT_LAG, guess + reach))
            before = prev[3] if prev is not None and follows else None
            # Ask the items of this run and of what precedes it: the previous run or the gap.
            first = 0 if prev is None else prev[0] if follows else prev[1]
            edges[k][0] = _edit_point(new, old, warp, before, d0, guess, window, (first, hi), tau)
            if follows:
                edges[k - 1][1] = edges[k][0]
        nxt = runs[k + 1] if k + 1 < len(runs) else None
        if hi < items and not (nxt is not None and nxt[0] == hi):
            guess = hi + _EDIT_LAG
            ceiling = nxt[0] + _EDIT_LAG if nxt is not None else items + int(_ITEM_HOPS)
            window = (max(int(edges[k][0]) + 1, guess - reach), min(ceiling, guess + reach))
            last = nxt[0] if nxt is not None else items
            edges[k][1] = _edit_point(new, old, warp, d1, None, guess, window, (lo, last), tau)
    return [(x0, x1) for x0, x1 in edges]


def _span(
    x0: float,
    x1: float,
    d0: int,
    d1: int,
    speed: float,
    warp: float,
    new_len: float,
    old_len: float,
) -> Span:
    """Seconds on both sides for new hops [x0, x1), clipped to both recordings.

    New hop ``x`` (at the declared rate, ``speed`` times real time) is old hop ``x * warp + d``.
    """
    t0, t1 = x0 * ITEM_SECONDS, min(x1 * ITEM_SECONDS, new_len * speed)
    y0 = (x0 * warp + d0) * ITEM_SECONDS
    y1 = (x1 * warp + d1) * ITEM_SECONDS - (x1 * ITEM_SECONDS - t1) * warp
    if y0 < 0:
        t0, y0 = t0 - y0 / warp, 0.0
    if y1 > old_len:
        t1, y1 = t1 - (y1 - old_len) / warp, old_len
    return Span(t0 / speed, t1 / speed, y0, y1)


def _align(
    new: Fingerprint,
    old: Fingerprint,
    speed: float,
    warp: float,
    min_span_seconds: float,
    max_bit_error: float,
) -> tuple[Alignment, float]:
    """The alignment and its evidence, for :func:`best_alignment` to compare speeds by.

    The evidence is the segmentation's gain (bits agreeing beyond the threshold, less every
    switch's penalty) per item of real time: a drifting alignment pays for each step it drifts.
    """
    a, b = as_u32(new), as_u32(old)
    new_len, old_len = _seconds(len(a)) / speed, _seconds(len(b))
    threshold = max_bit_error * 32
    allowed = _allowed(a, b, warp, threshold) if len(a) and len(b) else []
    if not any(len(offsets) for offsets in allowed):
        return Alignment((), new_len, old_len, speed * warp), 0.0
    path, total = _segment(a, b, warp, threshold, allowed)
    runs = _runs(path)
    spans = []
    for (_lo, _hi, d0, d1), (x0, x1) in zip(
        runs, _edges(a, b, warp, runs, max_bit_error), strict=True
    ):
        span = _span(x0, x1, d0, d1, speed, warp, new_len, old_len)
        if span.new_end - span.new_start >= min_span_seconds:
            spans.append(span)
    return Alignment(tuple(spans), new_len, old_len, speed * warp), -total / speed


def align(
    new: Fingerprint,
    old: Fingerprint,
    *,
    speed: float = 1.0,
    warp: float = 1.0,
    min_span_seconds: float = 3.0,
    max_bit_error: float = 0.28,
) -> Alignment:
    """Spans of ``new`` audio also in ``old``, from their raw Chromaprint items.

    ``speed``: ``new`` was fingerprinted with its sample rate declared as ``rate / speed``,
    which undoes a speed-up done by resampling (PAL: pitch raised with the tempo).
    ``warp``: compare new item ``t`` with old item ``t * warp``, for a tempo change that kept
    the pitch (a time-stretch), which a declared rate would detune.
    ``max_bit_error``: the share of an item's 32 bits that may differ in shared audio. Shared
    audio differs in ~0.3% of them (re-encoded) to ~17% (noise at 3 dB SNR); unrelated speech
    in the same voice over the same background still differs in ~44%, not 50%.
    """
    return _align(new, old, speed, warp, min_span_seconds, max_bit_error)[0]


def best_alignment(
    candidates: Mapping[float, Fingerprint],
    old: Fingerprint,
    *,
    min_span_seconds: float = 3.0,
    max_bit_error: float = 0.28,
) -> Alignment:
    """The best-supported alignment of the new audio fingerprinted at several speeds.

    ``candidates`` maps a speed (old seconds per new second) to the new audio's fingerprint
    computed with its sample rate declared as ``rate / speed``: e.g. ``{1.0: fp, 25 / 23.976:
    fp_pal, 23.976 / 25: fp_film}`` for a film that may be a PAL speed-up of the cached cut or
    the other way round. Each is aligned as is (a resampled speed change); the 1.0 fingerprint
    is also aligned warped to each other speed (a time-stretch that kept the pitch). The one
    with the most agreeing bits per second wins, so a drifting alignment at the wrong speed,
    which can cover as many seconds in short spans, loses to the steady one.
    """
    if not candidates:
        raise ValueError("best_alignment needs at least one candidate fingerprint")
    limits = (min_span_seconds, max_bit_error)
    tries = [_align(fp, old, speed, 1.0, *limits) for speed, fp in candidates.items()]
    if (plain := candidates.get(1.0)) is not None:
        tries += [_align(plain, old, 1.0, speed, *limits) for speed in candidates if speed != 1.0]
    return max(tries, key=lambda tried: tried[1])[0]
