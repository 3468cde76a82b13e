"""Editor on a cold server: time from clicking Optimise to the first change of the cabinet grid, in Chromium.

Run from the project root: ``.venv/bin/python bench/editor_bench.py [--runs 5] [--device DEMO-GYM-01]
[--click-at-once]``.

It migrates and seeds a temporary SQLite database once (``flask db upgrade``, ``prompts sync``,
``seed-demo``, ``create-user``), then for every run starts ``gunicorn -c gunicorn.conf.py wsgi:app`` afresh
on a free port (as ``make run`` does: one gevent worker, embedded mode, no AI provider), waits for
``/healthz``, signs in through the login page in Playwright-driven Chromium (landing on the fleet page, which
queues its figure jobs, as a real first visit does), opens the device's editor and clicks Optimise:

- by default as soon as the editor says its demand model is ready (the "fitting…" state is gone), and it
  also reports how long after the server answered that took;
- with ``--click-at-once``, as soon as the editor page is ready, fitting or not.

The figure is the time from the click to the first mutation of ``#cabinet`` that changes which product a
slot holds (a MutationObserver in the page, ``performance.now()`` on both ends). p50/p95 over the runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sse_bench import EMAIL, PASSWORD, free_port, pct, prepare  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
GRID_JS = """() => JSON.stringify([...document.querySelectorAll('#cabinet .cell')]
  .map((c) => c.querySelector('.tile')?.dataset.sku ?? null))"""
WATCH_JS = """(grid) => new Promise((resolve) => {
  const first = grid();
  const cabinet = document.querySelector('#cabinet');
  const t0 = performance.now();
  const observer = new MutationObserver(() => {
    if (grid() !== first) { observer.disconnect(); resolve(performance.now() - t0); }
  });
  observer.observe(cabinet, {childList: true, subtree: true, attributes: true});
  document.querySelector('#opt-start').click();
})"""


def wait_healthy(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def one_run(env: dict[str, str], device: str, click_at_once: bool) -> tuple[float, float]:
    """Start a cold server, open the editor, click Optimise; (ms to first grid change, s until model ready)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "-c", "gunicorn.conf.py", "wsgi:app"], env={**env, "BIND": f"127.0.0.1:{port}"}, cwd=ROOT
    )
    try:
        wait_healthy(port)
        up = time.monotonic()
        url = f"http://127.0.0.1:{port}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True).new_page()
            page.goto(url + "/login")
            page.fill("input[name=email]", EMAIL)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/")
            page.goto(f"{url}/devices/{device}/editor")
            page.wait_for_selector("body[data-editor-ready]")
            if not click_at_once:
                page.wait_for_selector('body[data-model="ready"]', timeout=120_000)
            ready_s = time.monotonic() - up
            elapsed = float(page.evaluate(f"() => ({WATCH_JS})({GRID_JS})"))
            browser.close()
        return elapsed, ready_s
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default="DEMO-GYM-01")
    parser.add_argument(
        "--click-at-once",
        action="store_true",
        help="click Optimise as soon as the page is ready, without waiting for the model",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env: dict[str, Any] = {
            **os.environ,
            "FLASK_APP": "app:create_app",
            "INSTANCE_PATH": tmp,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": "1",
        }
        for name in ("LLM_PROVIDER", "REDIS_URL"):
            env.pop(name, None)
        print("preparing database (migrate, prompts, demo fleet, admin) ...", flush=True)
        prepare(env)
        firsts: list[float] = []
        for i in range(args.runs):
            first_ms, ready_s = one_run(env, args.device, args.click_at_once)
            firsts.append(first_ms)
            print(
                f"run {i + 1}: model ready {ready_s:.1f} s after /healthz; first grid change {first_ms:.0f} ms "
                "after the click",
                flush=True,
            )
        print(
            f"first grid change after Optimise on a cold server ({args.runs} starts, {args.device}"
            f"{', clicked at once' if args.click_at_once else ''}): p50 {statistics.median(firsts):.0f} ms, "
            f"p95 {pct(firsts, 0.95):.0f} ms, max {max(firsts):.0f} ms (target <= 1500 ms); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
            flush=True,
        )


if __name__ == "__main__":
    main()
