"""``cpwx api``: the whisper-asr-webservice API (Bazarr's Whisper provider) on this machine."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from ._console import configure_logging, err, fail, settings_or_fail
from ._run import in_flow

__all__ = ["api"]


def api(
    host: Annotated[
        str, typer.Option(help="Interface to listen on: 0.0.0.0 for Bazarr on another host.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (whisper-asr-webservice's is 9000).")] = 9000,
    debug: Annotated[bool, typer.Option("--debug", help="Log every request and job.")] = False,
) -> None:
    """Serve whisper-asr-webservice's API (/asr, /detect-language, docs at /docs) on the
    pipeline and its cache, until Ctrl-C: a film asked for again, or already subtitled with
    `cpwx run`, is answered from the store. Jobs run one at a time (API_CONCURRENCY); with
    `cpwx serve` running, each job is a flow run in its UI."""
    configure_logging(debug)
    if not debug:  # a line per request (what the cache did), as an access log would
        requests = logging.getLogger("api")
        requests.addHandler(logging.StreamHandler(sys.stderr))
        requests.setLevel(logging.INFO)
    settings = settings_or_fail()
    from api import ApiError, serve_api

    def ready(url: str) -> None:
        err.print(f"API: [bold]{url}[/] (docs at {url}/docs). Ctrl-C stops it.", highlight=False)

    try:
        serve_api(settings, host, port, in_flow, ready, "info" if debug else "warning")
    except ApiError as exc:
        raise fail(str(exc)) from None
