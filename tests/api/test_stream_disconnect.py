"""Clients that hang up mid-stream never crash the real server (gunicorn + gevent, as `make run` starts it)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import BASE_DIR
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
EMAIL, PASSWORD = "hangup-admin@example.com", "hangup-password-1"
DEVICES = ["DEMO-OFF-01", "DEMO-GYM-01", "DEMO-SCH-01"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A migrated, seeded SQLite database and `gunicorn -c gunicorn.conf.py wsgi:app` on a free port."""
    port, log_path = _free_port(), tmp_path / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "LLM_PROVIDER", "PROMETHEUS_MULTIPROC_DIR"}}
    env.update(
        {
            "FLASK_APP": "app:create_app",
            "INSTANCE_PATH": str(tmp_path),
            "LOG_LEVEL": "INFO",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'hangup.db'}",
            "BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "JOB_WORKERS": "2",
            "OPTIMIZATION_STEP_DELAY_MS": "100",
            "STREAM_ABANDON_SECONDS": "2",
            "SSE_HEARTBEAT_SECONDS": "1",
        }
    )
    flask = str(Path(sys.executable).with_name("flask"))
    for args in (
        ["db", "upgrade"],
        ["prompts", "sync"],
        ["seed-demo"],
        ["create-user", EMAIL, "--password", PASSWORD, "--role", "admin"],
    ):
        subprocess.run([flask, *args], env=env, cwd=BASE_DIR, check=True, capture_output=True, timeout=300)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py", "wsgi:app"],
            env=env,
            cwd=BASE_DIR,
            stdout=log,
            stderr=log,
        )
        try:
            wait_for(lambda: _status(port, "/healthz") == 200, "gunicorn answers /healthz")
            yield {"port": port, "log": log_path}
        finally:
            proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _status(port: int, path: str) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def _token(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/api/auth/token",
            json.dumps({"email": EMAIL, "password": PASSWORD}),
            {"Content-Type": "application/json"},
        )
        return str(json.loads(conn.getresponse().read())["token"])
    finally:
        conn.close()


def _stream(port: int, token: str, device: str, hang_up_after: str | None) -> list[str]:
    """POST a stream and read event kinds until ``hang_up_after`` (then drop the socket) or the end."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request(
        "POST",
        "/api/planogram/stream-optimization",
        json.dumps({"device_id": device}),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    response = conn.getresponse()
    assert response.status == 200
    kinds: list[str] = []
    for raw in response:
        line = raw.decode().strip()
        if line.startswith("event: "):
            kinds.append(line[7:])
            if kinds[-1] == hang_up_after or kinds[-1] in {"done", "error", "cancelled"}:
                break
    if conn.sock is not None:
        conn.sock.close()  # an abrupt hang-up, mid-stream
    conn.close()
    return kinds


def test_clients_hanging_up_at_every_stage_leave_the_worker_serving(server: dict[str, Any]) -> None:
    port = server["port"]
    token = _token(port)
    for stage in ("queued", "started", "progress", "explanation"):
        for device in DEVICES:
            assert _stream(port, token, device, stage)[-1] == stage
    time.sleep(3)  # the abandoned jobs notice nobody listens (STREAM_ABANDON_SECONDS 2) and stop
    kinds = _stream(port, token, DEVICES[0], None)  # the same worker still serves a whole stream
    assert kinds[0] == "queued" and kinds[-1] == "done"
    assert _status(port, "/healthz") == 200
    log = server["log"].read_text(errors="replace")
    assert "LoopExit" not in log and "Traceback" not in log
    assert log.count("Booting worker") == 1  # never restarted
