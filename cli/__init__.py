"""``cpwx``: run subtitle jobs and see what the cache did for them. Typer commands and console
rendering only; the work is the application's (``jobs``) and its flows'."""

from __future__ import annotations

import os

import typer

from ._api import api
from ._cache import app as cache_app
from ._check import check
from ._console import configure_logging
from ._glossary import app as glossary_app
from ._models import models
from ._optimizer import app as optimizer_app
from ._optimizer import rate
from ._run import run, submit
from ._serve import serve
from ._tm import app as tm_app
from ._watch import watch

__all__ = ["PREFECT_DEFAULTS", "app", "configure_logging", "main"]

# Prefect's server reports usage to its vendor by default; the temporary (ephemeral) server a job
# starts here would too. Off unless the user chose otherwise: nothing a job does leaves the
# machine (tests/reliability/test_offline.py). The temporary server takes 12-14 s to start on 2
# idle cores; Prefect gives up at 20 s, which a busy machine overruns.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}

app = typer.Typer(
    name="cpwx",
    help="Subtitles for films, Hindi first, that get faster every time: a five-layer cache "
    "(fingerprints, models, ASR, translations, glossary) on Prefect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(cache_app, name="cache")
app.add_typer(glossary_app, name="glossary")
app.add_typer(tm_app, name="tm")
app.add_typer(optimizer_app, name="optimizer")
app.command("run")(run)
app.command("submit")(submit)
app.command("rate")(rate)
app.command("serve")(serve)
app.command("api")(api)
app.command("check")(check)
app.command("models")(models)
app.command("watch")(watch)


@app.callback()
def _root() -> None:
    """Subtitle films; every later job on the same media reuses the cache."""


def main() -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    app()
