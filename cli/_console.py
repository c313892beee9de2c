"""What every ``cpwx`` command shares: the stderr console, one-line errors, logging setup."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

import cache_manager as cm
from cache_manager import CacheManager
from cache_store import CacheStats
from jobs import JOB_LOGGERS, USER_ERRORS, open_cache
from pipeline import Settings, load_settings

T = TypeVar("T")

__all__ = [
    "USER_ERRORS",
    "configure_logging",
    "emit",
    "err",
    "fail",
    "guard",
    "one_line",
    "open_or_fail",
    "settings_or_fail",
    "stats_for",
]

err = Console(stderr=True)

# Control characters (a newline in a file name) would break the one-line error: shown escaped.
_ESCAPES = {c: ascii(chr(c))[1:-1] for c in (*range(32), 127)}


def fail(message: str, code: int = 1) -> typer.Exit:
    shown = escape(message.strip().translate(_ESCAPES))
    err.print(f"[red]cpwx: error:[/red] {shown}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def one_line(exc: Exception) -> str:
    """What a failure shows without --debug: a user error's own message; for anything else its
    type and first line, and where the rest is."""
    if isinstance(exc, USER_ERRORS):
        return str(exc) or type(exc).__name__
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first} (run with --debug for details)"


def guard(fn: Callable[[], T], code: int = 1, debug: bool = False) -> T:
    """Run ``fn``, turning user errors into one line and exit status ``code`` (``debug``: the
    traceback instead)."""
    try:
        return fn()
    except USER_ERRORS as exc:
        if debug:
            raise
        raise fail(str(exc), code) from None


def settings_or_fail() -> Settings:
    return guard(load_settings)


def emit(obj: Any) -> None:
    """The one JSON object a ``--json`` command prints on stdout."""
    print(json.dumps(obj, default=str, ensure_ascii=False), flush=True)


# The store's and its facets' warnings (a full disk, a damaged entry) reach the user.
_WARNING_LOGGERS = ("cache_store", "memory", "glossary", "cuts", "history")


def configure_logging(debug: bool) -> None:
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", ",".join(JOB_LOGGERS))
    if not debug:
        # Library warnings (urllib3, transformers, ...) are for developers: --debug shows them.
        warnings.simplefilter("ignore")
        # Prefect still records every log line for the UI; the terminal shows progress instead.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        # The store's warnings still reach the user, one line each, through the console the
        # progress bars draw on.
        for name in _WARNING_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(h, _WarningLine) for h in logger.handlers):
                logger.addHandler(_WarningLine(logging.WARNING))
    else:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        )


class _WarningLine(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = escape(record.getMessage().strip().translate(_ESCAPES))
        err.print(f"[yellow]cpwx: warning:[/yellow] {message}", highlight=False, soft_wrap=True)


def open_or_fail(settings: Settings) -> CacheManager:
    return guard(lambda: open_cache(settings))  # its credentials block may not load


def stats_for(settings: Settings, days: int) -> CacheStats:
    """The cache report under these settings' size cap and GPU price."""
    return cm.stats(
        open_or_fail(settings),
        days=days,
        max_bytes=settings.cache_max_bytes,
        cost_per_gpu_minute=settings.cache_cost_per_gpu_minute,
    )
