"""Real services on loopback with temporary data, for the shared-cache tests and benchmarks:
Debian's PostgreSQL (as the ``postgres`` user when run as root: it refuses root) and
``moto_server`` for an S3 API."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cache_store import SharedLevel

from ._helpers import free_port

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "cpwx-test",
    "AWS_SECRET_ACCESS_KEY": "cpwx-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


_INITDB = ("-U", "cpwx", "--auth=trust", "--no-sync", "-E", "UTF8")
_CREATEDB = ("-U", "cpwx", "cpwx")


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh")
    return found[-1].parent


@dataclass
class Postgres:
    port: int
    data: Path
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://cpwx@127.0.0.1:{self.port}/cpwx"

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(_pg_bin() / "pg_ctl"), "-D", str(self.data), "-w", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories=''"
        self.ctl("-o", options, "-l", str(self.data / "server.log"), "start")

    def stop(self) -> None:
        self.ctl("-m", "immediate", "stop")


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """A fresh cluster with database ``cpwx`` owned by the trusted superuser ``cpwx``."""
    root = Path(tempfile.mkdtemp(prefix="cpwx-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    server = Postgres(free_port(), root / "data", as_user)
    subprocess.run(
        [*as_user, str(_pg_bin() / "initdb"), "-D", str(server.data), *_INITDB],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    server.start()
    try:
        subprocess.run(
            [str(_pg_bin() / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), *_CREATEDB],
            check=True,
        )
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class MotoS3:
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        moto = Path(sys.executable).with_name("moto_server")
        self.process = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), _connect(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError("moto_server did not start in 30 s")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None


def _connect(port: int) -> contextlib.closing[socket.socket]:
    return contextlib.closing(socket.create_connection(("127.0.0.1", port), timeout=1))


@contextlib.contextmanager
def moto_s3(bucket: str = "cpwx") -> Iterator[MotoS3]:
    """``moto_server`` on a free loopback port (in memory: a restart forgets every object),
    with ``bucket`` created."""
    import boto3

    server = MotoS3(free_port())
    server.start()
    try:
        boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=S3_ENV["AWS_DEFAULT_REGION"],
        ).create_bucket(Bucket=bucket)
        yield server
    finally:
        server.stop()


def team_env(pg: Postgres, s3: MotoS3, name: str | None = None) -> dict[str, str]:
    """``CACHE_BACKEND=shared`` settings on these services, in a database and an S3 prefix of
    their own (named ``name``, or a fresh one)."""
    import uuid

    import psycopg

    name = name or f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg.url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return {
        **S3_ENV,
        "CACHE_BACKEND": "shared",
        "CACHE_S3_ENDPOINT": s3.endpoint,
        "CACHE_S3_BUCKET": "cpwx",
        "CACHE_S3_PREFIX": name,
        "CACHE_INDEX_URL": pg.url.rsplit("/", 1)[0] + f"/{name}",
        "CACHE_SHARED_TIMEOUT_SECONDS": "2",
    }


def shared_level(env: dict[str, str], root: Path) -> SharedLevel:
    """The shared level ``team_env``'s settings describe, for a cache dir at ``root``."""
    return SharedLevel.open(
        root,
        bucket=env["CACHE_S3_BUCKET"],
        prefix=env["CACHE_S3_PREFIX"],
        endpoint=env["CACHE_S3_ENDPOINT"],
        index_url=env["CACHE_INDEX_URL"],
        timeout=float(env["CACHE_SHARED_TIMEOUT_SECONDS"]),
    )
