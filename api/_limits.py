"""What keeps one server standing under a whole library's requests: a cap on the request body,
counted as it arrives, and a queue in front of the jobs so they run a few at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "JobQueue"]


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the upload is over {limit / 2**20:.0f} MB (API_MAX_UPLOAD_MB)")


class BodyLimit:
    """Refuse a body over ``limit`` bytes: at once when its Content-Length says so, else as
    soon as that many bytes have come in (a chunked upload), before anything is kept."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            refused = _too_large(self.limit)  # out here, no handler turns it into a response
            answer = JSONResponse({"detail": refused.detail}, refused.status_code)
            await answer(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _too_large(self.limit)
            return message

        await self.app(scope, counted, send)


class JobQueue:
    """Jobs ``slots`` at a time; up to ``waiting`` more wait their turn for ``timeout``
    seconds, and any beyond are told to come back (503) rather than piling up."""

    def __init__(self, slots: int, waiting: int, timeout: float) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._room = slots + waiting
        self._waiting = waiting
        self._timeout = timeout
        self.admitted = 0  # running or waiting

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        # Counted before the first await: two requests arriving together cannot both see a free
        # slot that only one of them will get.
        if self.admitted >= self._room:
            raise HTTPException(
                503, f"busy: {self._waiting} requests wait already (API_QUEUE_LIMIT); try later"
            )
        self.admitted += 1
        try:
            try:
                await asyncio.wait_for(self._slots.acquire(), self._timeout)
            except TimeoutError:
                raise HTTPException(
                    503,
                    f"no free slot within {self._timeout:.0f} s (API_QUEUE_TIMEOUT_SECONDS); "
                    "try later",
                ) from None
            try:
                yield
            finally:
                self._slots.release()
        finally:
            self.admitted -= 1
