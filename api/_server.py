"""The API on a socket, with uvicorn, until Ctrl-C."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn

from jobs import FlowRunner
from pipeline import Settings

from ._app import create_app

__all__ = ["ApiError", "serve_api"]


class ApiError(Exception):
    """The API cannot start; the message is one line meant for the user."""


def serve_api(
    settings: Settings,
    host: str,
    port: int,
    run_flow: FlowRunner,
    ready: Callable[[str], None],
    log_level: str = "warning",
) -> None:
    """Serve until stopped; ``ready`` hears the address once the port is ours (a port taken
    fails here, in one line, before anything loads)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ApiError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, run_flow), log_level=log_level, timeout_keep_alive=30, access_log=False
    )
    ready(f"http://{host if ':' not in host else f'[{host}]'}:{bound}")
    uvicorn.Server(config).run(sockets=[sock])
