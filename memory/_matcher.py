"""Tiered matching over the entries of one language pair.

Matching follows the spec's levels and the industry's bands (Trados, memoQ):

1. exact segment + exact context: 1.0 (a Trados "context match")
2. exact segment + similar context (>= 0.80): 0.9
3. similar segment: the rapidfuzz ratio of the normalised texts, times 0.9 when both sides
   know a context and the contexts differ (a memoQ-style penalty, not a refusal: a line heard
   in another scene is still the same line).

A 1M-entry memory answers a fuzzy query in milliseconds because it never scans: entries are
numbered in order of normalised length, so a length window (Translate Toolkit's idea, sized
here from the threshold) is an id range, and an inverted index of normalised tokens (CSR
arrays) yields the entries sharing the query's rarest tokens within that range. Only those few
are scored with rapidfuzz.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from ._entry import HUMAN, TmContext, TmEntry, TmMatch, canonical, normalise

__all__ = ["TranslationMemory"]

_CONTEXT_BAR = 0.80  # spec: "exact segment + similar context (>80% match)"
_CONTEXT_PENALTY = 0.9
_POSTING_BUDGET = 20_000  # ids gathered per query at most: bounds the worst case
_RESCORED = 512  # candidates scored with rapidfuzz per query (one cdist-like batch)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NO_CONTEXT = TmContext()


def _carry_numbers(query: str, source: str, target: str) -> str | None:
    """memoQ-style auto-fix: a match differing only in numbers gets the query's numbers."""
    new, old = _NUMBER.findall(query), _NUMBER.findall(source)
    if new == old:
        return target
    if len(new) != len(old) or any(target.count(n) != 1 for n in old):
        return None
    for a, b in zip(old, new, strict=True):
        target = target.replace(a, f"\0{b}\0", 1)
    return target.replace("\0", "")


class TranslationMemory:
    """An in-memory, read-only matcher over the entries of one language pair."""

    def __init__(self, entries: pa.Table) -> None:
        norm = normalise(entries.column("source_segment").combine_chunks())
        lengths = pc.utf8_length(norm).to_numpy(zero_copy_only=False).astype(np.int64)
        order = np.argsort(lengths, kind="stable")
        self._table = entries.take(pa.array(order))
        self._norm: list[str] = norm.take(pa.array(order)).to_pylist()
        self._lengths = lengths[order]
        self._rows: dict[int, TmEntry] = {}
        self._exact: dict[str, list[int]] = {}
        for i, text in enumerate(self._table.column("source_segment").to_pylist()):
            self._exact.setdefault(text, []).append(i)
        self._build_postings(pa.array(self._norm, pa.string()))
        self._models = self._codes("model_used")
        self._glossaries = self._codes("glossary_hash")
        approved = self._table.column("user_approved").to_numpy(zero_copy_only=False)
        self._human = approved.astype(bool) | (self._models[1] == self._models[0].get(HUMAN, -1))

    def _codes(self, column: str) -> tuple[dict[str, int], np.ndarray]:
        encoded = pc.dictionary_encode(self._table.column(column).combine_chunks())
        vocab = {v: i for i, v in enumerate(encoded.dictionary.to_pylist())}
        return vocab, encoded.indices.to_numpy(zero_copy_only=False)

    def _usable(
        self, ids: np.ndarray, models: Iterable[str] | None, glossary_hash: str | None
    ) -> np.ndarray:
        """Human translations always qualify; machine ones only from the given models and
        made under the same glossary terms."""
        ok = np.ones(len(ids), bool)
        for wanted, (vocab, codes) in (
            (None if models is None else set(models), self._models),
            (None if glossary_hash is None else {glossary_hash}, self._glossaries),
        ):
            if wanted is not None:
                allowed = [vocab[w] for w in wanted if w in vocab]
                ok &= np.isin(codes[ids], allowed)
        keep: np.ndarray = ids[ok | self._human[ids]]
        return keep

    def __len__(self) -> int:
        return len(self._norm)

    def _build_postings(self, norm: pa.Array) -> None:
        tokens = pc.split_pattern(norm, " ")
        flat = pc.list_flatten(tokens)
        owner = pc.list_parent_indices(tokens).to_numpy().astype(np.int32)
        encoded = pc.dictionary_encode(flat)
        ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        vocab = encoded.dictionary.to_pylist()
        self._vocab = {t: i for i, t in enumerate(vocab)}
        # Sort by (token, entry): each token's posting list is a sorted run of entry ids, so a
        # length window (an id range) is two binary searches into it.
        order = np.lexsort((owner, ids))
        ids, owner = ids[order], owner[order]
        first = np.ones(len(ids), bool)  # a token twice in one entry is posted once
        first[1:] = (ids[1:] != ids[:-1]) | (owner[1:] != owner[:-1])
        ids, self._postings = ids[first], owner[first]
        counts = np.bincount(ids, minlength=len(vocab))
        self._offsets = np.concatenate(([0], np.cumsum(counts)))

    def entry(self, i: int) -> TmEntry:
        if i not in self._rows:
            self._rows[i] = TmEntry.from_row(self._table.slice(i, 1).to_pylist()[0])
        return self._rows[i]

    def match(
        self,
        source: str,
        context: TmContext = _NO_CONTEXT,
        *,
        threshold: float = 0.80,
        models: Iterable[str] | None = None,
        glossary_hash: str | None = None,
    ) -> TmMatch | None:
        """The best match at or above ``threshold``, trying the levels in order.

        ``models`` limits machine translations to those models (human ones always qualify);
        ``glossary_hash`` limits them to those made under the same glossary terms.
        """
        exact_ids = np.array(self._exact.get(canonical(source), ()), np.int64)
        exact = [int(i) for i in self._usable(exact_ids, models, glossary_hash)]
        # A person's translation of this very line (imported, approved) beats any machine's,
        # even one made in the same context.
        exact = [i for i in exact if self._human[i]] or exact
        found = [
            (1.0, "context", i) for i in exact if self.entry(i).context.digest == context.digest
        ]
        if not found:
            found = [
                (0.9, "exact", i)
                for i in exact
                if (self.entry(i).context.similarity(context) or 1.0) >= _CONTEXT_BAR
            ]
        if not found:
            found = self._fuzzy(source, context, threshold, models, glossary_hash)
        best = max(found, key=lambda f: (f[0], *self._rank(f[2])), default=None)
        if best is None:
            return None
        score, level, i = best
        entry = self.entry(i)
        target = _carry_numbers(source, entry.source, entry.target)
        if target is None:  # numbers differ and cannot be carried: never good enough as-is
            target, score = entry.target, min(score, 0.89)
        return TmMatch(entry, round(score, 4), level, target)  # type: ignore[arg-type]

    def _rank(self, i: int) -> tuple[bool, float, int, float]:
        """Ties: approved first, then confidence, reuse, recency."""
        e = self.entry(i)
        used = e.last_used.timestamp() if e.last_used else 0.0
        return (e.user_approved, e.confidence, e.reuse_count, used)

    def candidates(self, norm: str, threshold: float) -> np.ndarray:
        """Entries in the length window sharing the query's rarest tokens, most shared first.

        ``fuzz.ratio >= t`` needs the shorter text to be at least t / (2 - t) of the longer
        (0.6 at 0.75): that window loses no match by length, where tmdb's fixed 0.75 does.
        """
        n, window = len(norm), threshold / (2 - threshold)
        lo = int(np.searchsorted(self._lengths, math.ceil(n * window), "left"))
        hi = int(np.searchsorted(self._lengths, math.floor(n / window), "right"))
        if hi <= lo:
            return np.empty(0, np.int32)
        token_ids = {self._vocab[t] for t in norm.split(" ") if t in self._vocab}
        start, end = np.int32(lo), np.int32(hi)
        runs = sorted(
            (
                run[np.searchsorted(run, start) : np.searchsorted(run, end)]
                for run in (
                    self._postings[self._offsets[t] : self._offsets[t + 1]] for t in token_ids
                )
            ),
            key=len,
        )
        # Probe the rarest tokens first: an entry sharing at least half the query's tokens
        # holds one of the rarest half + 1 (pigeonhole), and rare runs are short.
        picked: list[np.ndarray] = []
        gathered = 0
        for run in runs[: len(runs) // 2 + 1]:
            if picked and gathered + len(run) > _POSTING_BUDGET:
                break
            picked.append(run)
            gathered += len(run)
        if not gathered:
            return np.empty(0, np.int64)
        counts = np.bincount(np.concatenate(picked) - start)
        ids = np.flatnonzero(counts)
        if len(ids) > _RESCORED:
            ids = ids[np.argpartition(-counts[ids], _RESCORED)[:_RESCORED]]
        return ids + lo

    def _fuzzy(
        self,
        source: str,
        context: TmContext,
        threshold: float,
        models: Iterable[str] | None,
        glossary_hash: str | None,
    ) -> list[tuple[float, str, int]]:
        norm = normalise([source])[0].as_py()
        if not norm:
            return []
        ids = [
            int(i) for i in self._usable(self.candidates(norm, threshold), models, glossary_hash)
        ]
        scored = process.extract(
            norm,
            [self._norm[i] for i in ids],
            scorer=fuzz.ratio,
            score_cutoff=threshold * 100,
            limit=None,
        )
        found = []
        for _, ratio, pos in scored:
            i = ids[pos]
            similar = self.entry(i).context.similarity(context)
            factor = _CONTEXT_PENALTY if similar is not None and similar < _CONTEXT_BAR else 1.0
            score = float(ratio) / 100.0 * factor
            if score >= threshold:
                found.append((score, "fuzzy", i))
        return found
