"""Load on the real server (gunicorn + gevent as `make run` starts it): streams started at once, AI requests at once.

Run from the project root: ``.venv/bin/python bench/load_bench.py [--streams 20] [--ai 100] [--latency 0.8]
[--phases cold,warm,capacity] [--hang-up started|first] [--job-workers 2] [--step-delay-ms 150]``.

It migrates and seeds a temporary SQLite database with the demo fleet (as ``make run`` does), starts the fake
provider (devtools/fake_llm, answering after ``--latency`` seconds) and ``gunicorn -c gunicorn.conf.py wsgi:app``
(one gevent worker, embedded mode) on a free port, takes an API token, then measures at the client:

1. ``--streams`` POST /api/planogram/stream-optimization started at once over the demo devices, on a cold
   server (no model fitted yet) and again warm: time to the first SSE event (p50/p95/max), the events' kinds
   and queue positions, and the time until the job's ``started``. Each client then disconnects mid-stream
   (the killed-client case): the server must stay healthy and its log free of LoopExit / tracebacks.
   ``--phases capacity`` then starts ``--streams`` again and reads each to ``done``: optimiser throughput in
   streams per second, to compare ``--job-workers 1`` and ``2`` (``--step-delay-ms 0`` takes the editor's
   animation pacing out).
2. ``--ai`` concurrent POST /api/content/caption (distinct notes, so no cache hits) against the slow fake
   provider: status counts, wall time, provider calls and the ledger rows written (one per request).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sse_bench import DEVICES, EMAIL, PASSWORD, Client, free_port, pct, prepare, read_event  # noqa: E402
from devtools.fake_llm import FakeLLMServer  # noqa: E402

HANG_UP_AFTER_FIRST = False


def _post_stream(client: Client, conn: Any, device_id: str, barrier: threading.Barrier) -> tuple[Any, float]:
    """Wait for every thread, then POST the stream; the response and when the POST left (perf_counter)."""
    barrier.wait()
    t0 = time.perf_counter()
    conn.request("POST", "/api/planogram/stream-optimization", json.dumps({"device_id": device_id}), client.headers())
    return conn.getresponse(), t0


def stream_once(client: Client, device_id: str, barrier: threading.Barrier, out: dict[str, Any]) -> None:
    """POST a stream when every thread is ready; time its first event and its `started`; then hang up."""
    conn = client.connect()
    t0 = time.perf_counter()
    try:
        response, t0 = _post_stream(client, conn, device_id, barrier)
        out["status"] = response.status
        if response.status != 200:
            return
        while True:
            kind, data = read_event(response)
            if kind == "":
                return
            if kind is None:
                continue
            out.setdefault("first_ms", (time.perf_counter() - t0) * 1000)
            out.setdefault("first", kind)
            if kind == "queued" and data:
                out.setdefault("position", data.get("position"))  # the POST's own; later ones are updates
                out["queued_events"] = out.get("queued_events", 0) + 1
            if HANG_UP_AFTER_FIRST or kind in {"started", "done", "error", "cancelled"}:
                out["started_ms"] = (time.perf_counter() - t0) * 1000
                out["end"] = kind
                return
    except OSError as exc:
        out["status"] = f"{type(exc).__name__}"
    finally:
        conn.close()  # mid-stream: the server notices at its next write and the job abandons itself


def streams_at_once(client: Client, n: int, label: str) -> None:
    results: list[dict[str, Any]] = [{} for _ in range(n)]
    barrier = threading.Barrier(n)
    threads = [
        threading.Thread(target=stream_once, args=(client, DEVICES[i % len(DEVICES)], barrier, results[i]))
        for i in range(n)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = [r["first_ms"] for r in results if "first_ms" in r]
    started = [r["started_ms"] for r in results if "started_ms" in r]
    print(
        f"{label}: {n} streams at once -> statuses {dict(Counter(r.get('status') for r in results))}, "
        f"first events {dict(Counter(r.get('first') for r in results))}, "
        f"queue positions {sorted(r.get('position') or 0 for r in results)}, position updates before `started` "
        f"{sum(max(r.get('queued_events', 1) - 1, 0) for r in results)}",
        flush=True,
    )
    if first:
        print(
            f"  first event at the client: p50 {statistics.median(first):.0f} ms, p95 {pct(first, 0.95):.0f} ms, "
            f"max {max(first):.0f} ms (target: every one <= 150 ms)",
            flush=True,
        )
    if started:
        print(
            f"  `started` (model fitted, current objective known): p50 {statistics.median(started):.0f} ms, "
            f"max {max(started):.0f} ms",
            flush=True,
        )


def follow_to_end(client: Client, device_id: str, barrier: threading.Barrier, out: dict[str, Any]) -> None:
    """POST a stream when every thread is ready and read it to its terminal event."""
    conn = client.connect()
    t0 = time.perf_counter()
    try:
        response, t0 = _post_stream(client, conn, device_id, barrier)
        while response.status == 200:
            kind, _ = read_event(response)
            if kind in {"", "done", "error", "cancelled"}:
                out["end"], out["s"] = kind or "closed", time.perf_counter() - t0
                return
    except OSError as exc:
        out["end"] = type(exc).__name__
    finally:
        conn.close()


def capacity(client: Client, n: int, workers: str) -> None:
    """Optimiser throughput: ``n`` streams at once, each read to its end; completed streams per second."""
    results: list[dict[str, Any]] = [{} for _ in range(n)]
    barrier = threading.Barrier(n)
    threads = [
        threading.Thread(target=follow_to_end, args=(client, DEVICES[i % len(DEVICES)], barrier, results[i]))
        for i in range(n)
    ]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    done = sorted(r["s"] for r in results if r.get("end") == "done")
    print(
        f"capacity, {workers} optimiser worker(s): {n} streams -> {dict(Counter(r.get('end') for r in results))} "
        f"in {wall:.1f} s = {len(done) / wall:.2f} streams/s; stream time p50 {statistics.median(done):.1f} s, "
        f"max {max(done):.1f} s"
        if done
        else f"capacity: no stream finished {results}",
        flush=True,
    )


def caption(client: Client, i: int, barrier: threading.Barrier, out: list[Any]) -> None:
    body = {"products": ["DEMO-COLA-330"], "style": "casual", "platform": "instagram", "notes": f"load bench {i}"}
    conn = client.connect()
    barrier.wait()
    try:
        conn.request("POST", "/api/content/caption", json.dumps(body), client.headers())
        response = conn.getresponse()
        payload = json.loads(response.read() or b"null")
        out[i] = (response.status, (payload or {}).get("fallback_used"))
    except OSError as exc:
        out[i] = (type(exc).__name__, None)
    finally:
        conn.close()


def ai_at_once(client: Client, fake: FakeLLMServer, db_path: Path, n: int) -> None:
    before = _ledger_rows(db_path)
    calls_before = len(fake.calls)
    out: list[Any] = [None] * n
    barrier = threading.Barrier(n)
    threads = [threading.Thread(target=caption, args=(client, i, barrier, out)) for i in range(n)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    rows = _ledger_rows(db_path) - before
    statuses = Counter(status for status, _ in out)
    fallbacks = sum(1 for status, fb in out if status == 201 and fb)
    print(
        f"{n} captions at once (provider latency {fake.script.latency_s:.1f} s): statuses {dict(statuses)}, "
        f"{fallbacks} labelled fallbacks, wall {wall:.1f} s, provider calls {len(fake.calls) - calls_before}, "
        f"ledger rows {rows} (answers {statuses.get(201, 0)})",
        flush=True,
    )


def _ledger_rows(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM llm_requests WHERE feature = 'caption'").fetchone()[0])


def server_health(client: Client, log_path: Path) -> None:
    conn = client.connect()
    conn.request("GET", "/healthz")
    status = conn.getresponse().status
    conn.close()
    text = log_path.read_text(errors="replace")
    print(
        f"after the disconnects: /healthz {status}; server log: LoopExit {text.count('LoopExit')}, "
        f"Traceback {text.count('Traceback')}, worker boots {text.count('Booting worker')}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--ai", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.8, help="seconds the fake provider takes to answer")
    parser.add_argument(
        "--phases",
        default="cold,warm",
        help="rounds to run: cold, warm (first events) and capacity (streams read to their end)",
    )
    parser.add_argument("--job-workers", type=int, default=2, help="JOB_WORKERS: optimiser threads/processes")
    parser.add_argument("--step-delay-ms", type=int, default=150, help="OPTIMIZATION_STEP_DELAY_MS (pacing)")
    parser.add_argument(
        "--hang-up",
        choices=["started", "first"],
        default="started",
        help="when each stream client disconnects: after `started` or after its first event",
    )
    args = parser.parse_args()
    global HANG_UP_AFTER_FIRST
    HANG_UP_AFTER_FIRST = args.hang_up == "first"
    phases = set(args.phases.split(","))
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer() as fake:
        fake.script.latency_s = args.latency
        fake.add(
            text=json.dumps(
                {
                    "caption": "Ice-cold cola, right by the lift.",
                    "character_count": 33,
                    "style": "casual",
                    "alt_text": "A can of cola",
                    "confidence": 0.8,
                }
            ),
            contains="caption",
            times=None,
        )
        port, db_path, log_path = free_port(), Path(tmp) / "bench.db", Path(tmp) / "gunicorn.log"
        env = {
            **os.environ,
            "FLASK_APP": "app:create_app",
            "INSTANCE_PATH": tmp,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "LOG_LEVEL": "WARNING",
            "BIND": f"127.0.0.1:{port}",
            "RATELIMIT_DEFAULT": "100000 per minute",
            "WEB_CONCURRENCY": "1",
            "LLM_PROVIDER": "anthropic",
            "ANTHROPIC_API_KEY": "bench-key",
            "ANTHROPIC_BASE_URL": fake.url,
            "LLM_DAILY_BUDGET_USD": "1000",
            "JOB_WORKERS": str(args.job_workers),
            "OPTIMIZATION_STEP_DELAY_MS": str(args.step_delay_ms),
        }
        env.pop("REDIS_URL", None)
        print("preparing database (migrate, prompts, demo fleet, admin) ...", flush=True)
        prepare(env)
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [gunicorn, "-c", "gunicorn.conf.py", "wsgi:app"], env=env, cwd=ROOT, stdout=log, stderr=log
            )
            try:
                client = Client(port)
                client.token = _token(client)
                print(f"load average before measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)", flush=True)
                if "cold" in phases:
                    streams_at_once(client, args.streams, "cold server")
                    time.sleep(2)
                if "warm" in phases:
                    streams_at_once(client, args.streams, "warm server")
                    time.sleep(3)
                if "capacity" in phases:
                    if phases & {"cold", "warm"}:  # the earlier rounds' abandoned jobs end first
                        time.sleep(float(os.environ.get("STREAM_ABANDON_SECONDS", "30")) + 5)
                    capacity(client, args.streams, str(args.job_workers))
                server_health(client, log_path)
                if args.ai:
                    ai_at_once(client, fake, db_path, args.ai)
            finally:
                server.send_signal(signal.SIGQUIT)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()


def _token(client: Client) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            status, body = client.post_json("/api/auth/token", {"email": EMAIL, "password": PASSWORD})
            break
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert status == 201, body
    return str(body["token"])


if __name__ == "__main__":
    main()
