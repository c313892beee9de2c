"""Human-facing renderings of cache reports: terminal text, Markdown (Prefect artifacts), HTML."""

from __future__ import annotations

import html
from collections import defaultdict
from itertools import accumulate
from pathlib import Path

from cache_manager import CleanupReport
from cache_store import CacheStats
from cues import QcReport
from optimizer import Prediction

from ._result import JobResult

__all__ = [
    "cleanup_markdown",
    "estimate_markdown",
    "human_bytes",
    "job_markdown",
    "language_summary",
    "output_rows",
    "qc_summary",
    "stats_html",
    "stats_markdown",
    "stats_text",
]

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError("unreachable")


def _rate(hits: int, misses: int) -> str:
    total = hits + misses
    return f"{hits / total:.0%} ({hits}/{total})" if total else "-"


def stats_text(stats: CacheStats, verbose: bool = False) -> str:
    """The spec's ``--stats`` report."""
    oldest = (
        f"{(stats.generated_at - stats.oldest_entry).days} days ago" if stats.oldest_entry else "-"
    )
    share = stats.total_bytes / stats.max_bytes if stats.max_bytes else 0
    lines = [
        "Cache Statistics Report",
        f"Generated: {stats.generated_at:%Y-%m-%d %H:%M:%S} UTC",
        "",
        "Overall:",
        f"  Total Size: {human_bytes(stats.total_bytes)} / {human_bytes(stats.max_bytes)} "
        f"({share:.0%})",
        f"  Total Files: {stats.files:,}",
        f"  Oldest Entry: {oldest}",
        "",
        "By Layer:",
        *(
            f"  {layer.layer:<13} {human_bytes(layer.bytes):>10}  ({layer.entries:,} entries)"
            for layer in stats.layers
        ),
        "",
        f"Performance (last {stats.days} days):",
        *(
            f"  {layer.layer:<13} hits {_rate(layer.hits, layer.misses)}"
            for layer in stats.layers
            if layer.layer != "models"
        ),
        "",
        f"Time Saved: {stats.saved_seconds / 60:,.1f} minutes",
        f"Estimated Savings: ${stats.cost_saved:,.2f} "
        f"(at ${stats.cost_per_gpu_minute:.3f} per GPU-minute)",
    ]
    if verbose:
        lines += ["", "Miss reasons:"]
        lines += [f"  {kind:<15} {n}" for kind, n in stats.miss_reasons.items()] or ["  none"]
    return "\n".join(lines)


def stats_markdown(stats: CacheStats) -> str:
    rows = "\n".join(
        f"| {layer.layer} | {layer.entries} | {human_bytes(layer.bytes)} | "
        f"{_rate(layer.hits, layer.misses)} | {layer.saved_seconds:.1f} |"
        for layer in stats.layers
    )
    return (
        f"### Cache: {human_bytes(stats.total_bytes)} of {human_bytes(stats.max_bytes)}\n\n"
        "| layer | entries | size | hit rate | seconds saved |\n|---|---:|---:|---:|---:|\n"
        f"{rows}\n\nTime saved in the last {stats.days} days: {stats.saved_seconds / 60:.1f} min "
        f"(about ${stats.cost_saved:.2f})."
    )


def cleanup_markdown(report: CleanupReport) -> str:
    gone = report.payloads
    verb = "Would remove" if gone.dry_run else "Removed"
    return (
        f"### Cache cleanup\n\n{verb} {gone.removed_count} entries "
        f"({gone.expired} expired, {gone.evicted_by_usage} by usage, "
        f"{gone.evicted_for_size} for the size cap), freeing "
        f"{human_bytes(gone.freed_bytes)}. Size {human_bytes(gone.bytes_before)} -> "
        f"{human_bytes(gone.bytes_after)} (cap {human_bytes(gone.max_bytes)}). "
        f"Translation memory: {report.memory_expired} entries expired, "
        f"{report.memory_evicted} evicted for TM_MAX_CACHE_SIZE_GB."
        + (f" Shared: {report.shared_expired} entries expired." if report.shared_expired else "")
    )


def estimate_markdown(estimate: Prediction) -> str:
    rows = "\n".join(f"| {name} | {s:.1f} |" for name, s in estimate.stage_seconds.items())
    quality = (
        f"; expected ASR confidence {estimate.expected_confidence:.2f}"
        if estimate.expected_confidence is not None
        else ""
    )
    return (
        f"### Estimate: {estimate.seconds:.0f} s\n\n"
        f"From the {estimate.source} ({estimate.samples} past jobs, trust "
        f"{estimate.confidence:.0%}){quality}.\n\n"
        f"| stage | seconds |\n|---|---:|\n{rows}\n"
    )


def job_markdown(result: JobResult) -> str:
    rows = "\n".join(
        f"| {name} | {rep.cache} | {rep.seconds:.2f} | {rep.saved_seconds:.1f} | {rep.reason} |"
        for name, rep in result.stages.items()
    )
    saved = result.saved_seconds
    if result.estimate_seconds:
        off = result.wall_seconds / result.estimate_seconds - 1
        timing = (
            f"Estimated {result.estimate_seconds:.1f} s, took {result.wall_seconds:.2f} s "
            f"({off:+.0%})"
        )
    else:
        timing = f"Took {result.wall_seconds:.2f} s (no estimate: no job history yet)"
    if result.refined_estimate_seconds:
        off = result.wall_seconds / result.refined_estimate_seconds - 1
        timing += (
            f"; refined to {result.refined_estimate_seconds:.1f} s once the audio and what a "
            f"similar cut lends were known ({off:+.0%})"
        )
    return (
        f"### Cache report: {result.media}\n\n"
        "| stage | cache | seconds | seconds saved | why |\n|---|---|---:|---:|---|\n"
        f"{rows}\n\n{language_summary(result)}.\n\n{timing}; the cache saved {saved:.1f} s."
        + "".join(_qc_markdown(qc) for qc in (result.qc, result.source_qc) if qc is not None)
    )


def language_summary(result: JobResult) -> str:
    """One line: the language heard, on which model, and how sure the detection was."""
    line = f"language {result.source_language} on model {result.model}"
    if result.language_probs:
        probs = ", ".join(f"{code} {p:.2f}" for code, p in result.language_probs.items())
        line += f" (detected: {probs})"
    return line + (f"; {result.language_note}" if result.language_note else "")


def qc_summary(qc: QcReport) -> str:
    """One line: how many cues pass every rule of the profile, and the rules that fail."""
    failing = ", ".join(f"{r.rule} {r.failed}" for r in qc.failed_rules)
    return f"QC {qc.profile}: {qc.cues} cues, {qc.passing_share:.0%} pass every rule" + (
        f" (failing: {failing})" if failing else ""
    )


def _qc_markdown(qc: QcReport) -> str:
    rows = "\n".join(
        f"| {r.rule} | {r.description} | {r.failed} | {', '.join(f'#{n}' for n in r.offenders)} |"
        for r in qc.rules
    )
    return (
        f"\n\n#### {qc_summary(qc)}\n\n"
        "| rule | what | cues breaking it | first offenders |\n|---|---|---:|---|\n"
        f"{rows}"
    )


def output_rows(result: JobResult) -> list[dict[str, str | int]]:
    """The job's files, for the Prefect table artifact."""
    files = {**result.source_outputs, **result.outputs}
    return [
        {
            "format": fmt,
            "path": path,
            "bytes": Path(path).stat().st_size if Path(path).is_file() else 0,
        }
        for fmt, path in files.items()
    ]


def _svg_lines(
    title: str,
    series: dict[str, list[tuple[int, float]]],
    x_labels: list[str],
    y_max: float,
    y_format: str,
) -> str:
    w, h, pad = 640, 260, 48
    n = max(len(x_labels) - 1, 1)

    def xy(i: int, v: float) -> str:
        x = pad + (w - 2 * pad) * i / n
        y = h - pad - (h - 2 * pad) * (v / y_max if y_max else 0)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<text x="{pad}" y="20" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#999"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#999"/>',
        f'<text x="4" y="{pad + 4}" font-size="11">{y_format.format(y_max)}</text>',
        f'<text x="4" y="{h - pad}" font-size="11">{y_format.format(0)}</text>',
    ]
    for i in (0, len(x_labels) - 1) if x_labels else ():
        parts.append(
            f'<text x="{xy(i, 0).split(",")[0]}" y="{h - pad + 16}" font-size="11" '
            f'text-anchor="middle">{html.escape(x_labels[i])}</text>'
        )
    for k, (colour, (name, points)) in enumerate(zip(_PALETTE, series.items(), strict=False)):
        coords = [xy(i, v).split(",") for i, v in points]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(",".join(c) for c in coords)}"/>'
        )
        parts += [f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>' for x, y in coords]
        parts.append(
            f'<text x="{w - pad - 120}" y="{pad + 16 * k}" font-size="12" '
            f'fill="{colour}">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def stats_html(stats: CacheStats) -> str:
    """A self-contained page: hit rate per layer per day, and cumulative time saved."""
    days = sorted({d.day for d in stats.daily})
    pos = {day: i for i, day in enumerate(days)}
    rates: dict[str, list[tuple[int, float]]] = defaultdict(list)
    saved_per_day = [0.0] * len(days)
    for d in stats.daily:
        if d.hits + d.misses:
            rates[d.layer].append((pos[d.day], 100 * d.hits / (d.hits + d.misses)))
        saved_per_day[pos[d.day]] += d.saved_seconds / 60
    cumulative = list(accumulate(saved_per_day))
    hit_chart = _svg_lines("Hit rate per layer (%)", dict(rates), days, 100, "{:.0f}%")
    saved_chart = _svg_lines(
        "Cumulative time saved (minutes)",
        {"saved": list(enumerate(cumulative))},
        days,
        max(cumulative, default=0) or 1,
        "{:.1f}",
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>cpwx cache report</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em}"
        "</style></head><body><h1>cpwx cache report</h1>"
        f"<pre>{html.escape(stats_text(stats, verbose=True))}</pre>"
        f"<figure>{hit_chart}</figure><figure>{saved_chart}</figure></body></html>"
    )
