"""A redis-server of the test's own on a free port, which the test can stop and start again (outage tests)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process on a fixed port; `stop()` and `start()` simulate an outage.

    With `persist` the server keeps an append-only file in `workdir`, so data survives a restart (as production
    Redis should be configured: docs/ARCHITECTURE.md); without it a restart comes back empty."""

    def __init__(self, workdir: Path, persist: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (scripts/with-redis.sh installs it)")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.persist = persist
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start and wait until it answers PING (up to 5 s)."""
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *persistence,
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(50):
            try:
                if client.ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """Terminate the server (clients now get connection errors)."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
