"""Translation-memory lookup: ours against Translate Toolkit's tmdb, side by side in one run.

    .venv/bin/python benchmarks/tm_lookup.py [--full] [--json]

Both systems load the SAME entries and answer the SAME queries at each size (10k and 100k
entries; 1M with ``--full``):

- ours: ``memory.TranslationMemory`` built from a ``tm_entries`` table, queried with
  ``match(query, threshold=0.75)``;
- tmdb: ``translate.storage.tmdb.TMDB`` (translate-toolkit 3.18.1, the last release that ships
  it: SQLite, an FTS3 "any word of 3+ characters" pre-filter, the 0.75x-1.33x length window,
  then a Levenshtein score in Python) with ``min_similarity=75, max_candidates=1``, loaded with
  ``add_list`` (en -> fr), then ``ANALYZE``d, and queried with
  ``translate_unit(query, "en", "fr")``. Without ``ANALYZE``, SQLite (3.40 here) runs its join
  targets-first and evaluates the FTS ``MATCH`` once per row: 3.5 s a query at 10k entries,
  growing faster than linearly, so that would measure a bad plan rather than tmdb's method.

Entries are English subtitle-like lines of 5-20 words drawn (seeded) from the 5,000 most
frequent English words with their real frequencies (wordfreq's ``top_n_list`` and
``word_frequency``, so the Zipf tail is real, contractions included), capitalised, with end
punctuation, some commas and numbers in ~15% of lines; 15% of entries are near-duplicates
(1-2 words edited) of an earlier one, as recurring lines are in real subtitle memories.

Queries: "exact" ones are stored lines verbatim; "fuzzy" ones are stored lines with 10-25% of
their words substituted, inserted or deleted (80%), or new lines (20%, mostly with no match).

Recall is judged by ONE measure for both systems, ours: rapidfuzz ``fuzz.ratio`` of the
``normalise()``d texts (lower case, numbers as one placeholder, punctuation dropped). The
ground truth is a brute-force scan of every entry (``process.cdist``). A query "has a true
match" when some entry scores >= 75; "any" is the share of those for which the system returned
an entry scoring >= 75, "best" the share for which it returned one with the top score. (tmdb
ranks by its own measure, ``100 - 100 * Levenshtein(a, b) / max(len)`` on raw, case-sensitive
text, which is stricter than ``fuzz.ratio``: some of its misses are that difference, not its
pre-filter. So the table also gives "any" judged by tmdb's measure, against a brute-force
ground truth by that measure, on tmdb's queries.)

tmdb takes ~0.5-1 s a query at 1M entries, so it answers the first ``--tmdb-queries`` of each
query list only (500 at 10k and 100k, 100 at 1M by default); ours answers all of them, and
its recall over tmdb's subset is shown too where the subsets differ.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from memory import TM_COLUMNS, TranslationMemory, normalise

THRESHOLD = 75  # percent: tmdb's default min_similarity, and ours as threshold=0.75
VOCABULARY = 5_000
NEAR_DUPLICATES = 0.15
NO_MATCH_QUERIES = 0.20
DEFAULT_TMDB_QUERIES = {10_000: 500, 100_000: 500, 1_000_000: 100}


# --- corpus -------------------------------------------------------------------------------


def vocabulary() -> tuple[list[str], np.ndarray]:
    """The most frequent English words and their probabilities (real frequencies)."""
    try:
        from wordfreq import top_n_list, word_frequency
    except ImportError:
        raise SystemExit(
            "this benchmark needs wordfreq: .venv/bin/pip install -e '.[bench]'"
        ) from None

    words = [w for w in top_n_list("en", VOCABULARY * 2) if w.replace("'", "").isalpha()]
    words = words[:VOCABULARY]
    freq = np.array([word_frequency(w, "en") for w in words])
    return words, freq / freq.sum()


class Writer:
    """Seeded generator of subtitle-like English lines."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.words, self.p = vocabulary()
        self._pool = np.empty(0, np.int64)

    def word(self) -> str:
        if not len(self._pool):
            self._pool = self.rng.choice(len(self.words), size=65_536, p=self.p)
        w, self._pool = self.words[self._pool[-1]], self._pool[:-1]
        return w

    def number(self) -> str:
        kind = self.rng.integers(4)
        if kind == 0:
            return str(int(self.rng.integers(1950, 2030)))  # a year
        if kind == 1:
            return f"{self.rng.integers(1, 13)}:{self.rng.integers(0, 60):02d}"  # a time
        if kind == 2:
            return f"{self.rng.integers(1, 100)}.{self.rng.integers(0, 10)}"
        return str(int(self.rng.integers(2, 1000)))

    def tokens(self) -> list[str]:
        n = round(self.rng.triangular(4.5, 7, 20.5))
        tokens = [self.word() for _ in range(n)]
        if self.rng.random() < 0.15:
            tokens[int(self.rng.integers(n))] = self.number()
        return tokens

    def edit(self, tokens: list[str], edits: int) -> list[str]:
        out = list(tokens)
        for _ in range(edits):
            op = self.rng.random()
            if op < 0.5 or len(out) <= 3:
                out[int(self.rng.integers(len(out)))] = self.word()
            elif op < 0.75:
                out.insert(int(self.rng.integers(len(out) + 1)), self.word())
            else:
                del out[int(self.rng.integers(len(out)))]
        return out

    def line(self, tokens: Sequence[str]) -> str:
        words = [("I" + w[1:]) if w == "i" or w.startswith("i'") else w for w in tokens]
        if len(words) > 8 and self.rng.random() < 0.25:
            k = int(self.rng.integers(3, len(words) - 2))
            words[k] += ","
        end = self.rng.choice([".", ".", ".", ".", "?", "?", "!"])
        return " ".join(words)[:1].upper() + " ".join(words)[1:] + end


def corpus(writer: Writer, n: int) -> tuple[list[str], list[list[str]]]:
    """n distinct lines (and their tokens); each prefix is itself a valid smaller corpus."""
    lines: list[str] = []
    tokens: list[list[str]] = []
    seen: set[str] = set()
    while len(lines) < n:
        if lines and writer.rng.random() < NEAR_DUPLICATES:
            base = tokens[int(writer.rng.integers(len(tokens)))]
            toks = writer.edit(base, int(writer.rng.integers(1, 3)))
        else:
            toks = writer.tokens()
        text = writer.line(toks)
        if text not in seen:
            seen.add(text)
            lines.append(text)
            tokens.append(toks)
    return lines, tokens


def queries(
    writer: Writer, lines: list[str], tokens: list[list[str]], count: int
) -> tuple[list[str], list[str]]:
    picks = writer.rng.choice(len(lines), size=count, replace=False)
    exact = [lines[i] for i in picks]
    fuzzy = []
    for i in writer.rng.choice(len(lines), size=count, replace=False):
        if writer.rng.random() < NO_MATCH_QUERIES:
            fuzzy.append(writer.line(writer.tokens()))
            continue
        toks = tokens[i]
        edits = max(1, round(writer.rng.uniform(0.10, 0.25) * len(toks)))
        fuzzy.append(writer.line(writer.edit(toks, edits)))
    return exact, fuzzy


# --- ground truth -------------------------------------------------------------------------


def norm(texts: Sequence[str]) -> list[str]:
    return [str(t) for t in normalise(list(texts)).to_pylist()]


def ground_truth(
    qs: list[str], entries: list[str], scorer: Any = fuzz.ratio, scale: float = 1.0
) -> np.ndarray:
    """Best score of each query over ALL entries, in percent (0 where none reaches 75):
    by default normalised fuzz.ratio, the measure ours uses (pass normalised texts)."""
    best = np.zeros(len(qs), np.float32)
    step = max(1, 20_000_000 // max(1, len(entries)))
    for a in range(0, len(qs), step):
        scores = process.cdist(
            qs[a : a + step],
            entries,
            scorer=scorer,
            score_cutoff=THRESHOLD / scale,
            dtype=np.float32,
            workers=-1,
        )
        best[a : a + step] = scores.max(axis=1) * scale
    return best


def tmdb_ground_truth(queries_: list[str], entries: list[str]) -> np.ndarray:
    """The same by tmdb's own measure: 100 - 100 * Levenshtein / max(len), raw text."""
    return ground_truth(queries_, entries, Levenshtein.normalized_similarity, 100.0)


# --- systems ------------------------------------------------------------------------------


def tm_table(lines: list[str]) -> pa.Table:
    n = len(lines)
    now = datetime(2026, 1, 1)
    empty = pa.array([[]] * n, pa.list_(pa.string()))
    columns: dict[str, Any] = {
        "cache_key": [f"{i:016x}" for i in range(n)],
        "source_lang": ["en"] * n,
        "target_lang": ["fr"] * n,
        "source_segment": lines,
        "translated_segment": [target(t) for t in lines],
        "model_used": ["bench"] * n,
        "glossary_hash": [""] * n,
        "glossary_terms_applied": empty,
        "context_prev": empty,
        "context_next": empty,
        "confidence": [0.9] * n,
        "compute_seconds": [0.0] * n,
        "reuse_count": [0] * n,
        "created_at": [now] * n,
        "last_used": [now] * n,
        "user_approved": [False] * n,
        "movie_id": pa.nulls(n, pa.string()),
        "audio_hash": pa.nulls(n, pa.string()),
    }
    assert tuple(columns) == TM_COLUMNS, TM_COLUMNS
    return pa.table(columns)


def target(source: str) -> str:
    return "fr: " + source


def timed(
    fn: Callable[[str], str | None], texts: list[str]
) -> tuple[list[float], list[str | None]]:
    for t in texts[:5]:  # warm-up
        fn(t)
    gc.collect()
    lat, out = [], []
    for t in texts:
        start = time.perf_counter()
        found = fn(t)
        lat.append(time.perf_counter() - start)
        out.append(found)
    return lat, out


def pct(lat: Sequence[float], q: float) -> float:
    return float(np.percentile(np.array(lat) * 1000, q))


def recall(
    found: Sequence[str | None],
    qs: Sequence[str],
    best: np.ndarray,
    measure: Callable[[str, str], float],
) -> dict[str, Any]:
    """Shares of the queries with a true >= 75 match that got one, and that got the best."""
    has = best >= THRESHOLD
    any_ = top = 0
    for f, q, b, h in zip(found, qs, best, has, strict=True):
        if f is not None and h:
            s = measure(q, f)
            any_ += s >= THRESHOLD
            top += s >= b - 1e-3
    total = int(has.sum())
    return {
        "with_true_match": total,
        "any": any_ / total if total else 1.0,
        "best": top / total if total else 1.0,
        "returned": sum(f is not None for f in found),
    }


def run_ours(lines: list[str], exact: list[str], fuzzy: list[str]) -> dict[str, Any]:
    table = tm_table(lines)
    gc.collect()
    start = time.perf_counter()
    tm = TranslationMemory(table)
    build = time.perf_counter() - start

    def look(q: str) -> str | None:
        m = tm.match(q, threshold=THRESHOLD / 100)
        return None if m is None else m.entry.source

    return measured(build, look, exact, fuzzy)


def measured(
    build: float, look: Callable[[str], str | None], exact: list[str], fuzzy: list[str]
) -> dict[str, Any]:
    """One system's row: build time, latencies, what it found."""
    lat_e, out_e = timed(look, exact)
    lat_f, out_f = timed(look, fuzzy)
    return {
        "build_s": build,
        "exact_ms": lat_e,
        "fuzzy_ms": lat_f,
        "exact_found": sum(o == q for o, q in zip(out_e, exact, strict=True)),
        "fuzzy_out": out_f,
    }


def run_tmdb(lines: list[str], exact: list[str], fuzzy: list[str], work: Path) -> dict[str, Any]:
    from translate.storage.tmdb import TMDB

    path = str(work / f"tmdb-{len(lines)}.sqlite")
    units = [{"source": s, "target": target(s), "context": ""} for s in lines]
    gc.collect()
    start = time.perf_counter()
    db = TMDB(path, max_candidates=1, min_similarity=THRESHOLD)
    db.add_list(units, "en", "fr")
    db.cursor.execute("ANALYZE")  # else SQLite re-runs the FTS MATCH per row (docstring)
    db.connection.commit()
    build = time.perf_counter() - start
    del units

    def look(q: str) -> str | None:
        hits = db.translate_unit(q, "en", "fr")
        return str(hits[0]["source"]) if hits else None

    row = measured(build, look, exact, fuzzy)
    for connection, _ in TMDB._tm_dbs.pop(path, {}).values():
        connection.close()
    return row


# --- driver -------------------------------------------------------------------------------


def measure(
    n: int, lines: list[str], toks: list[list[str]], args: argparse.Namespace, work: Path
) -> list[dict[str, Any]]:
    writer = Writer(args.seed + n)
    entries, entry_tokens = lines[:n], toks[:n]
    exact, fuzzy = queries(writer, entries, entry_tokens, args.queries)
    k = min(args.queries, args.tmdb_queries or DEFAULT_TMDB_QUERIES.get(n, 100))
    log = sys.stderr
    start = time.perf_counter()
    enorm = norm(entries)
    qn = norm(fuzzy)
    qnorm = dict(zip(fuzzy, qn, strict=True))
    best = ground_truth(qn, enorm)
    best_own = tmdb_ground_truth(fuzzy[:k], entries)
    print(
        f"  {n:,}: ground truth {time.perf_counter() - start:.1f} s, "
        f"{int((best >= THRESHOLD).sum())}/{len(fuzzy)} fuzzy queries have a >= 75 match",
        file=log,
    )
    score = dict(zip(entries, enorm, strict=True))

    def ratio(q: str, f: str) -> float:
        return float(fuzz.ratio(qnorm[q], score[f]))

    def lev(q: str, f: str) -> float:
        return float(Levenshtein.normalized_similarity(q, f)) * 100

    ours = run_ours(entries, exact, fuzzy)
    print(f"  {n:,}: ours built in {ours['build_s']:.1f} s", file=log)
    theirs = run_tmdb(entries, exact[:k], fuzzy[:k], work)
    print(f"  {n:,}: tmdb built in {theirs['build_s']:.1f} s, {k} queries each", file=log)
    rows = []
    for name, r in (("ours", ours), ("tmdb", theirs)):
        out = r.pop("fuzzy_out")
        m = len(out)
        row = {
            "system": name,
            "entries": n,
            "build_s": r["build_s"],
            "exact_queries": len(r["exact_ms"]),
            "fuzzy_queries": m,
            "tmdb_queries": k,
            "exact_found": r["exact_found"],
            **{
                f"{kind}_{q}_ms": pct(r[f"{kind}_ms"], q)
                for kind in ("exact", "fuzzy")
                for q in (50, 95)
            },
            "recall": recall(out, fuzzy[:m], best[:m], ratio),
            # on tmdb's queries only, by each measure
            "recall_on_tmdb_queries": recall(out[:k], fuzzy[:k], best[:k], ratio),
            "recall_tmdb_measure": recall(out[:k], fuzzy[:k], best_own, lev),
        }
        rows.append(row)
    return rows


def times(x: float) -> str:
    return f"{x:.1f}x" if x < 10 else f"{x:.0f}x"


def markdown(rows: list[dict[str, Any]]) -> None:
    print(
        "| system | entries | build s | exact p50 ms | exact p95 ms | fuzzy p50 ms | fuzzy p95 ms "
        "| queries exact/fuzzy | exact hits | recall any >= 75 | recall best "
        "| recall any, tmdb's measure | tmdb/ours fuzzy p50 "
        "| tmdb/ours fuzzy p95 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ours: dict[int, dict[str, Any]] = {}
    for r in rows:
        rec = r["recall"]
        any_, best = f"{rec['any']:.3f}", f"{rec['best']:.3f}"
        if r["fuzzy_queries"] > r["tmdb_queries"]:
            sub = r["recall_on_tmdb_queries"]
            any_ += f" ({sub['any']:.3f} on tmdb's {r['tmdb_queries']})"
            best += f" ({sub['best']:.3f})"
        ratio = ("-", "-")
        if r["system"] == "ours":
            ours[r["entries"]] = r
        else:
            o = ours[r["entries"]]
            ratio = tuple(times(r[f"fuzzy_{q}_ms"] / o[f"fuzzy_{q}_ms"]) for q in (50, 95))
        print(
            f"| {r['system']} | {r['entries']:,} | {r['build_s']:.2f} "
            f"| {r['exact_50_ms']:.3f} | {r['exact_95_ms']:.3f} "
            f"| {r['fuzzy_50_ms']:.2f} | {r['fuzzy_95_ms']:.2f} "
            f"| {r['exact_queries']}/{r['fuzzy_queries']} | {r['exact_found']} "
            f"| {any_} | {best} | {r['recall_tmdb_measure']['any']:.3f} "
            f"| {ratio[0]} | {ratio[1]} |"
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--full", action="store_true", help="add 1,000,000 entries (~20 min)")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    ap.add_argument("--queries", type=int, default=500, help="exact and fuzzy queries, each")
    ap.add_argument("--tmdb-queries", type=int, default=0, help="0: 500/500/100 by size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([10_000, 100_000, 1_000_000] if args.full else [10_000, 100_000])
    start = time.perf_counter()
    lines, toks = corpus(Writer(args.seed), max(sizes))
    print(
        f"  corpus of {len(lines):,} lines in {time.perf_counter() - start:.1f} s", file=sys.stderr
    )
    work = Path(tempfile.mkdtemp(prefix="cpwx-tm-bench-"))
    rows = []
    try:
        for n in sizes:
            rows += measure(n, lines, toks, args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"rapidfuzz {version('rapidfuzz')}, translate-toolkit {version('translate-toolkit')}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    if args.json:
        print(json.dumps({"machine": machine, "threshold": THRESHOLD, "rows": rows}, indent=2))
        return
    print(
        f"\nTranslation-memory lookup, threshold {THRESHOLD}%, same entries and queries for "
        f"both, {machine}\n"
    )
    markdown(rows)


if __name__ == "__main__":
    main()
