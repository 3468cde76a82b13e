"""SSE streaming under real gunicorn + gevent: time to first event, events/s, realtime-score p95 under load.

Run from the project root: ``.venv/bin/python bench/sse_bench.py [--streams 20] [--runs 20]
[--step-delay-ms 150] [--redis redis://127.0.0.1:6379/9 --rq-workers 2]``.

It migrates and seeds a temporary SQLite database (``flask db upgrade``, ``prompts sync``, ``seed-demo``,
``create-user``), starts ``gunicorn -c gunicorn.conf.py wsgi:app`` on a free port (one gevent worker in
embedded mode), takes an API token, then measures over plain HTTP:

1. time to the first SSE event of ``POST /api/planogram/stream-optimization`` (each run is cancelled at once);
2. ``realtime-score`` latency alone, then while ``--streams`` optimisation streams run concurrently,
   and the events per second those streams deliver.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEVICES = ["DEMO-OFF-01", "DEMO-OFF-02", "DEMO-SCH-01", "DEMO-GYM-01", "DEMO-HOS-01", "DEMO-STA-01", "DEMO-UNI-01"]
SCORE_BODY = {"device_id": "DEMO-OFF-01", "sku": "DEMO-WATER-500", "slot": "E2"}
EMAIL, PASSWORD = "bench-admin@example.com", "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def prepare(env: dict[str, str]) -> None:
    flask = str(Path(sys.executable).with_name("flask"))
    for args in (
        ["db", "upgrade"],
        ["prompts", "sync"],
        ["seed-demo"],
        ["create-user", EMAIL, "--password", PASSWORD, "--role", "admin"],
    ):
        subprocess.run([flask, *args], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


class Client:
    """Tiny HTTP/1.1 client (stdlib): a browser session (cookie + CSRF header) or a bearer token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.token: str | None = None
        self.cookie: str | None = None
        self.csrf: str | None = None

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def headers(self) -> dict[str, str]:
        out = {"Content-Type": "application/json"}
        if self.token:
            out["Authorization"] = f"Bearer {self.token}"
        if self.cookie:
            out["Cookie"] = self.cookie
        if self.csrf:
            out["X-CSRFToken"] = self.csrf
        return out

    def browser_login(self) -> None:
        """Sign in through the login form, as the editor page's user does."""
        conn = self.connect()
        conn.request("GET", "/login")
        response = conn.getresponse()
        html = response.read().decode()
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert match, "no CSRF token on the login page"
        self.csrf = match.group(1)
        self.cookie = _cookie(response)
        assert self.cookie, "no session cookie from the login page"
        form = urllib.parse.urlencode({"email": EMAIL, "password": PASSWORD, "csrf_token": self.csrf})
        conn.request(
            "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie}
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 302, response.status
        self.cookie = _cookie(response) or self.cookie
        conn.close()

    def post_json(
        self, path: str, body: dict[str, Any], conn: http.client.HTTPConnection | None = None
    ) -> tuple[int, Any]:
        own = conn is None
        conn = conn or self.connect()
        conn.request("POST", path, json.dumps(body), self.headers())
        response = conn.getresponse()
        data = response.read()
        if own:
            conn.close()
        return response.status, json.loads(data) if data else None


def _cookie(response: http.client.HTTPResponse) -> str | None:
    header = response.getheader("Set-Cookie")
    return header.split(";", 1)[0] if header else None


def read_event(response: http.client.HTTPResponse) -> tuple[str | None, dict[str, Any] | None]:
    """Read one SSE block; (None, None) for a comment, ('', None) at end of stream."""
    lines: list[str] = []
    while True:
        raw = response.readline()
        if not raw:
            return "", None
        line = raw.decode().rstrip("\n")
        if line == "":
            break
        lines.append(line)
    fields = dict(line.split(": ", 1) for line in lines if not line.startswith(":"))
    if "event" not in fields:
        return None, None
    return fields["event"], json.loads(fields["data"])


def open_stream(client: Client, device_id: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    conn = client.connect()
    conn.request("POST", "/api/planogram/stream-optimization", json.dumps({"device_id": device_id}), client.headers())
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"stream-optimization answered {response.status}: {response.read()[:300]!r}")
    return conn, response


def time_to_first_event(client: Client, runs: int) -> list[float]:
    """POST → first event (`queued`), in ms; each job is cancelled at once so runs do not pile up."""
    out: list[float] = []
    for i in range(runs):
        t0 = time.perf_counter()
        conn, response = open_stream(client, DEVICES[i % len(DEVICES)])
        kind, data = read_event(response)
        out.append((time.perf_counter() - t0) * 1000)
        assert kind in {"queued", "started"} and data is not None, kind
        conn.close()
        client.post_json(f"/api/planogram/optimizations/{data['job_id']}/cancel", {})
    return out


def score_latencies(
    client: Client, stop: threading.Event, out: list[float], failures: list[int], pause_s: float = 0.02
) -> None:
    conn = client.connect()  # keep-alive, like a browser
    while not stop.is_set():
        t0 = time.perf_counter()
        status, _ = client.post_json("/api/planogram/realtime-score", SCORE_BODY, conn)
        out.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            failures.append(status)
        time.sleep(pause_s)
    conn.close()


def run_stream(client: Client, device_id: str, result: dict[str, Any]) -> None:
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    result.update(counts=counts, seconds=0.0)
    try:
        conn, response = open_stream(client, device_id)
    except RuntimeError as exc:
        counts["http_error"] = 1
        print(f"  stream failed: {exc}", flush=True)
        return
    while True:
        kind, _data = read_event(response)
        if kind == "":
            break
        if kind is None:
            continue
        counts[kind] = counts.get(kind, 0) + 1
        if kind in {"done", "error", "cancelled"}:
            break
    conn.close()
    result.update(counts=counts, seconds=time.perf_counter() - t0)


def relay_throughput(redis_url: str | None, n: int = 8_000) -> float:
    """Events/s through services.sse.relay alone (in this process): publisher thread → event stream → SSE text.

    ``n`` stays below the streams' 10,000-event cap, so a fast publisher cannot trim events the relay has not read.
    """
    sys.path.insert(0, str(ROOT))
    from services.events import EventStream, MemoryEventStream, RedisEventStream
    from services.sse import RelaySettings, relay

    if redis_url:
        import redis

        events: EventStream = RedisEventStream(redis.Redis.from_url(redis_url))
    else:
        events = MemoryEventStream()
    stream = f"bench-{time.time_ns()}"
    events.publish(stream, "started", {"n": n})
    payload = {
        "step": 0,
        "moves": [{"slot": "A1", "from": "X", "to": "Y"}],
        "objective": 1.0,
        "planogram": {f"{r}{c}": "DEMO-COLA-330" for r in "ABCDEF" for c in range(1, 9)},
    }

    def publish() -> None:
        for i in range(n):
            events.publish(stream, "progress", {**payload, "step": i})
        events.publish(stream, "done", {})

    t0 = time.perf_counter()
    publisher = threading.Thread(target=publish)
    publisher.start()
    count = sum(1 for chunk in relay(events, stream, None, RelaySettings(block_s=0.5)) if chunk.startswith("id:"))
    publisher.join()
    assert count == n + 2, count
    return count / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--step-delay-ms", type=int, default=150)
    parser.add_argument("--job-workers", type=int, default=2)
    parser.add_argument(
        "--in-thread",
        action="store_true",
        help="embedded mode: optimise in the job threads (OPTIMIZATION_CHILD_PROCESSES=0)",
    )
    parser.add_argument("--redis", help="REDIS_URL for the server (jobs then need --rq-workers)")
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument(
        "--bearer", action="store_true", help="authenticate with an API token instead of a browser session"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "FLASK_APP": "app:create_app",
            "INSTANCE_PATH": tmp,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "LOG_LEVEL": "WARNING",
            "BIND": f"127.0.0.1:{port}",
            "RATELIMIT_DEFAULT": "100000 per minute",
            "OPTIMIZATION_STEP_DELAY_MS": str(args.step_delay_ms),
            "JOB_WORKERS": str(args.job_workers),
            "WEB_CONCURRENCY": "1",
            "OPTIMIZATION_CHILD_PROCESSES": "0" if args.in_thread else "1",
        }
        env.pop("LLM_PROVIDER", None)
        if args.redis:
            env["REDIS_URL"] = args.redis
        print("preparing database (migrate, prompts, demo fleet, admin) ...", flush=True)
        prepare(env)
        rate = relay_throughput(args.redis)
        print(
            f"relay alone ({'Redis Streams' if args.redis else 'memory'} event stream, 60-slot progress events, "
            f"publisher thread + relay in one process): {rate:,.0f} events/s",
            flush=True,
        )
        procs: list[subprocess.Popen[bytes]] = []
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        procs.append(subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", "wsgi:app"], env=env, cwd=ROOT))
        if args.redis:
            import redis

            redis.Redis.from_url(args.redis).flushdb()
            flask = str(Path(sys.executable).with_name("flask"))
            procs += [
                subprocess.Popen([flask, "rq-worker"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
                for _ in range(args.rq_workers)
            ]
        try:
            measure(Client(port), args)
        finally:
            procs[0].send_signal(signal.SIGQUIT)  # gunicorn: quick shutdown (streams may still be open)
            for proc in procs[1:]:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def measure(client: Client, args: argparse.Namespace) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            status, body = client.post_json("/api/auth/token", {"email": EMAIL, "password": PASSWORD})
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert status == 201, body
    if args.bearer:
        client.token = body["token"]
    else:
        client.browser_login()
    print(f"authenticated with {'an API token' if args.bearer else 'a browser session (cookie + CSRF)'}", flush=True)
    for device in DEVICES:  # fit each device's model once, as a warm server has
        client.post_json("/api/planogram/realtime-score", {**SCORE_BODY, "device_id": device, "slot": "A1"})

    print(f"load average before measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)", flush=True)
    ttfe = time_to_first_event(client, args.runs)
    print(
        f"time to first SSE event over {args.runs} runs: p50 {statistics.median(ttfe):.1f} ms, "
        f"p95 {pct(ttfe, 0.95):.1f} ms, max {max(ttfe):.1f} ms (target p95 <= 150 ms)",
        flush=True,
    )
    time.sleep(1.0)

    idle: list[float] = []
    failures: list[int] = []
    stop = threading.Event()
    sampler = threading.Thread(target=score_latencies, args=(client, stop, idle, failures))
    sampler.start()
    time.sleep(5)
    stop.set()
    sampler.join()
    print(
        f"realtime-score alone ({len(idle)} calls): p50 {statistics.median(idle):.1f} ms, p95 {pct(idle, 0.95):.1f} ms",
        flush=True,
    )

    loaded: list[float] = []
    stop = threading.Event()
    sampler = threading.Thread(target=score_latencies, args=(client, stop, loaded, failures))
    results: list[dict[str, Any]] = [{} for _ in range(args.streams)]
    streams = [
        threading.Thread(target=run_stream, args=(client, DEVICES[i % len(DEVICES)], results[i]))
        for i in range(args.streams)
    ]
    t0 = time.perf_counter()
    sampler.start()
    for thread in streams:
        thread.start()
    for thread in streams:
        thread.join()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    total = sum(sum(r["counts"].values()) for r in results)
    ends: dict[str, int] = {}
    for r in results:
        for kind in ("done", "error", "cancelled", "http_error"):
            ends[kind] = ends.get(kind, 0) + r["counts"].get(kind, 0)
    durations = [r["seconds"] for r in results]
    where = (
        f"{args.rq_workers} RQ workers"
        if args.redis
        else (
            f"{args.job_workers} job threads, optimiser {'in the threads' if args.in_thread else 'in child processes'}"
        )
    )
    print(
        f"{args.streams} concurrent optimisation streams (step delay {args.step_delay_ms} ms, {where}): "
        f"{total} events in {wall:.1f} s "
        f"= {total / wall:.0f} events/s; ends {ends}; stream time p50 {statistics.median(durations):.1f} s, "
        f"max {max(durations):.1f} s",
        flush=True,
    )
    print(
        f"realtime-score during the streams ({len(loaded)} calls): p50 {statistics.median(loaded):.1f} ms, "
        f"p95 {pct(loaded, 0.95):.1f} ms, max {max(loaded):.1f} ms (target p95 <= 50 ms); "
        f"non-200 answers: {len(failures)}",
        flush=True,
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
