"""Per-process append-only journals of cache events, drained into the index in bulk.

A lookup must not open the DuckDB index (one writer process at a time, ~10 ms to open at a
million rows), so hits and misses are appended to ``journal/<host>-<pid>.jsonl`` and ingested
by maintenance commands. Appends and drains lock the file, and an append that finds its file
already drained (unlinked) reopens a fresh one, so no event is lost.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._disk import unless_disk_full

__all__ = ["Journal"]


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / f"{socket.gethostname()}-{os.getpid()}.jsonl"

    @unless_disk_full("a journal record (an event, or a row the index can adopt later)")
    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_nlink == 0:  # drained and unlinked while we waited
                    continue
                os.write(fd, line)
                return
            finally:
                os.close(fd)

    @contextmanager
    def taken(self) -> Iterator[list[dict[str, Any]]]:
        """Every journal's records, removed: put back when the caller fails to store them."""
        records = self.drain()
        try:
            yield records
        except BaseException:
            for record in records:
                self.append(record)
            raise

    def drain(self) -> list[dict[str, Any]]:
        """Take every journal's records, removing them: the caller must store what it gets."""
        records: list[dict[str, Any]] = []
        if not self.directory.exists():
            return records
        for path in sorted(self.directory.glob("*.jsonl")):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                with os.fdopen(os.dup(fd), "rb") as fh:
                    data = fh.read()
                path.unlink(missing_ok=True)
            finally:
                os.close(fd)
            for line in data.splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue  # a torn last line from a killed writer
        return records
