"""Bad requests get a 4xx with a one-line ``detail`` and change nothing; the server stays up;
jobs wait their turn, and a request beyond the queue is told to come back."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import HTTPException

from api._limits import JobQueue
from testkit import bazarr_pcm, run_cli, tree_state

from .conftest import Api, running_api

MB = 2**20


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A server taking uploads up to 1 MB, one job at a time and none waiting."""
    home = tmp_path_factory.mktemp("limits")
    with running_api(home, API_MAX_UPLOAD_MB="1", API_CONCURRENCY="1", API_QUEUE_LIMIT="0") as api:
        yield api


def _chunked(size: int) -> Iterator[bytes]:
    """A body of unknown length (chunked): the limit is counted as it arrives."""
    boundary = b"--x\r\n"
    yield boundary + b'Content-Disposition: form-data; name="audio_file"; filename="a"\r\n\r\n'
    for _ in range(size // MB):
        yield b"\0" * MB
    yield b"\r\n--x--\r\n"


BAD = {
    "empty body": ({"encode": "false"}, {"audio_file": b""}, 400, "empty"),
    "a text file as media": (
        {"encode": "true"},
        {"audio_file": ("notes.txt", b"not audio at all\n" * 50)},
        415,
        "notes.txt",
    ),
    "PCM of odd length": ({"encode": "false"}, {"audio_file": b"\0" * 1001}, 400, "1001 bytes"),
    "unknown output": ({"output": "docx"}, {"audio_file": b"\0\0"}, 422, "output"),
    "unknown task": ({"task": "dub"}, {"audio_file": b"\0\0"}, 422, "task"),
    "unknown language": ({"language": "xx"}, {"audio_file": b"\0\0"}, 422, "'xx'"),
    "no audio_file": ({}, {"other": b"\0\0"}, 422, "audio_file"),
    "over the size limit": ({"encode": "false"}, {"audio_file": b"\0" * (2 * MB)}, 413, "1 MB"),
}


def test_bad_requests_are_one_line_4xx_and_change_nothing(small: Api) -> None:
    before = tree_state(small.cache)
    with small.client() as http:
        for name, (params, files, status, said) in BAD.items():
            answer = http.post("/asr", params=params, files=files)
            assert answer.status_code == status, (name, answer.text)
            detail = answer.json()["detail"]
            assert isinstance(detail, str) and "\n" not in detail and said in detail, name
        chunked = http.post(
            "/asr",
            content=_chunked(3 * MB),
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert chunked.status_code == 413, chunked.text
        assert chunked.request.headers.get("transfer-encoding") == "chunked"
        detect = http.post(
            "/detect-language", params={"encode": "false"}, files={"audio_file": b"\0" * 3}
        )
        assert detect.status_code == 400
        assert http.get("/health").status_code == 200  # still up
    assert tree_state(small.cache) == before  # nothing stored
    assert list(small.temp.iterdir()) == []  # no upload or job folder left
    assert "Traceback" not in small.log.read_text()


def test_a_request_beyond_the_queue_is_told_to_come_back(small: Api, speech_mp4: Path) -> None:
    """One slot, no waiting room: of two requests at once for a film never heard, one runs
    the job and the other gets 503 at once."""
    pcm = bazarr_pcm(speech_mp4)
    assert len(pcm) < MB
    together = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def ask() -> None:
        with small.client() as http:
            together.wait()
            answers.append(http.post("/asr", params={"encode": "false"}, files={"audio_file": pcm}))

    asking = [threading.Thread(target=ask) for _ in range(2)]
    for thread in asking:
        thread.start()
    for thread in asking:
        thread.join(timeout=600)
    assert sorted(a.status_code for a in answers) == [200, 503], [a.text for a in answers]
    busy = next(a for a in answers if a.status_code == 503)
    assert "API_QUEUE_LIMIT" in busy.json()["detail"]
    # No request's folder is left (Prefect's temporary server keeps its own while it runs).
    assert not list(small.temp.glob("cpwx-api-*"))


def test_two_requests_at_once_cannot_both_take_one_slot() -> None:
    """The slot is counted before the first await: a second request arriving while the first
    is still acquiring its slot is told to come back, not queued behind it."""
    queue = JobQueue(1, 0, 60.0)

    async def one() -> None:
        async with queue.turn():
            await asyncio.sleep(0.05)

    async def both() -> list[BaseException | None]:
        return await asyncio.gather(one(), one(), return_exceptions=True)

    out = asyncio.run(both())
    assert sorted(getattr(o, "status_code", 200) for o in out) == [200, 503]
    assert all(o is None or isinstance(o, HTTPException) for o in out)
    assert queue.admitted == 0


def test_a_port_taken_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("api", "--port", str(port), env={"CACHE_DIR": str(tmp_path / "cache")})
    assert done.code == 1
    assert (
        done.stderr.strip()
        == f"cpwx: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
