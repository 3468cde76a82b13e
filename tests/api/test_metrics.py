"""GET /metrics: who may read it, that it parses with Prometheus' own parser, the LLM and HTTP series after real
calls, multiprocess mode as gunicorn runs it, and gunicorn.conf.py's hooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from config import BASE_DIR
from devtools.fake_llm import FakeLLMServer

CAPTION = {"product_name": "Sparkling Water", "platform": "instagram", "style": "casual", "max_chars": 150}


@pytest.fixture
def app(make_llm_app: Callable[..., Flask]) -> Flask:
    return make_llm_app(METRICS_TOKEN="scrape-secret-123")


def samples(text: str) -> dict[str, list[Any]]:
    """Samples by sample name, parsed by prometheus_client's text parser (which raises on malformed input)."""
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def value(found: dict[str, list[Any]], name: str, **labels: str) -> float:
    matches = [s.value for s in found.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (name, labels, found.get(name))
    return float(matches[0])


def test_metrics_is_for_admins_or_the_metrics_token(client: Any, admin: dict[str, Any], viewer: dict[str, Any]) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=viewer["headers"]).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    denied = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-12"})
    assert denied.status_code == 401 and "WWW-Authenticate" in denied.headers
    assert client.get("/metrics", headers=admin["headers"]).status_code == 200
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-123"})
    assert scraped.status_code == 200 and scraped.content_type.startswith("text/plain")
    assert client.get("/healthz").status_code == 200  # health stays public


def test_without_a_token_configured_only_admins_read_metrics(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    assert app.config["METRICS_TOKEN"] is None
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_llm_http_cache_budget_and_breaker_series_after_a_call(
    app: Flask, client: Any, admin: dict[str, Any], fake: FakeLLMServer
) -> None:
    first = client.post(
        "/api/planogram/test-prompt",
        json={"prompt_name": "caption", "variables": CAPTION, "run": True},
        headers=admin["headers"],
    ).json["result"]
    again = client.post(
        "/api/planogram/test-prompt",
        json={"prompt_name": "caption", "variables": CAPTION, "run": True},
        headers=admin["headers"],
    ).json["result"]
    assert (first["status"], again["status"]) == ("ok", "cached")
    ledger_row = client.get(f"/api/llm/requests/{first['request_id']}", headers=admin["headers"]).json
    text = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-123"}).data.decode()
    found = samples(text)
    model = first["model"]
    ok = {"feature": "test_prompt", "model": model}
    assert value(found, "planogram_llm_calls_total", **ok, status="ok") == 1
    assert value(found, "planogram_llm_calls_total", **ok, status="cached") == 1
    assert value(found, "planogram_llm_tokens_total", **ok, kind="input") == first["tokens_in"] + again["tokens_in"]
    assert value(found, "planogram_llm_tokens_total", **ok, kind="output") == (
        ledger_row["tokens_out"] + again["tokens_out"]
    )
    assert value(found, "planogram_llm_cost_usd_total", **ok) == pytest.approx(ledger_row["cost_usd"], abs=1e-9)
    assert value(found, "planogram_llm_call_duration_seconds_count", **ok, status="ok") == 1
    assert value(found, "planogram_llm_cache_hits_total", feature="test_prompt") == 1
    assert value(found, "planogram_llm_cache_misses_total", feature="test_prompt") == 1
    assert value(found, "planogram_llm_budget_usd") == app.config["LLM_DAILY_BUDGET_USD"]
    assert value(found, "planogram_llm_budget_spent_usd") == pytest.approx(first["cost_usd"], abs=1e-9)
    assert value(found, "planogram_llm_circuit_state", provider="anthropic", state="closed") == 1
    assert value(found, "planogram_llm_circuit_state", provider="anthropic", state="open") == 0
    # HTTP series are labelled by URL rule, never by the raw path (bounded label values).
    assert (
        value(
            found,
            "planogram_http_requests_total",
            method="GET",
            endpoint="/api/llm/requests/<request_id>",
            status="200",
        )
        == 1
    )
    assert (
        value(
            found, "planogram_http_requests_total", method="POST", endpoint="/api/planogram/test-prompt", status="200"
        )
        == 2
    )
    assert first["request_id"] not in text
    assert (
        value(
            found, "planogram_http_request_duration_seconds_count", method="POST", endpoint="/api/planogram/test-prompt"
        )
        == 2
    )


def test_unauthenticated_requests_are_counted_too(client: Any) -> None:
    assert client.get("/api/devices").status_code == 401
    assert client.get("/no/such/page").status_code == 404
    found = samples(client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-123"}).data.decode())
    assert value(found, "planogram_http_requests_total", method="GET", endpoint="/api/devices", status="401") == 1
    assert value(found, "planogram_http_requests_total", method="GET", endpoint="(unmatched)", status="404") == 1


WORKER = textwrap.dedent("""
    import json, sys
    from app import create_app
    from config import TestConfig
    from extensions import db
    from services import auth

    db_url, instance, scrape = sys.argv[1], sys.argv[2], sys.argv[3] == "scrape"
    app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI=db_url, INSTANCE_PATH=instance, LOG_LEVEL="ERROR",
                                METRICS_TOKEN="t0ken"))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        from services.ai import pipeline
        from services.prompts import PromptRegistry
        from config import BASE_DIR
        PromptRegistry(BASE_DIR / "prompts").sync()
        db.session.commit()
        vars = {"product_name": "Oat Bar", "platform": "x", "max_hashtags": 5}
        print(json.dumps({"status": pipeline().run("hashtags", "hashtags", vars).status}))
    if scrape:
        print(client.get("/metrics", headers={"Authorization": "Bearer t0ken"}).data.decode())
""")


def _run_worker(tmp_path: Path, db_path: Path, multiproc: Path, scrape: bool) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc), "PYTHONPATH": str(BASE_DIR)}
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            WORKER,
            f"sqlite:///{db_path}",
            str(tmp_path / "instance"),
            "scrape" if scrape else "no",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_multiprocess_mode_merges_every_workers_series(tmp_path: Path, template_db: Path) -> None:
    db_path = tmp_path / "shared.db"
    shutil.copy(template_db, db_path)
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    first = _run_worker(tmp_path, db_path, multiproc, scrape=False)
    assert json.loads(first.splitlines()[0]) == {"status": "fallback"}
    assert any(p.name.startswith("counter_") for p in multiproc.iterdir())  # the worker wrote mmap files
    out = _run_worker(tmp_path, db_path, multiproc, scrape=True)  # a second worker process, then a scrape
    found = samples(out.split("\n", 1)[1])
    # Two processes made one fallback call and one /healthz request each; the scrape merges both.
    assert value(found, "planogram_llm_calls_total", feature="hashtags", model="none", status="fallback") == 2
    assert value(found, "planogram_llm_fallbacks_total", feature="hashtags", error_kind="no_provider") == 2
    assert value(found, "planogram_http_requests_total", method="GET", endpoint="/healthz", status="200") == 2
    assert value(found, "planogram_llm_budget_remaining_usd") == 10.0


GUNICORN_CONF = textwrap.dedent("""
    import json, os, runpy, sys
    before = set(sys.modules)
    settings = runpy.run_path("gunicorn.conf.py")
    loaded = sorted(m for m in set(sys.modules) - before
                    if m.split(".")[0] in {"app", "services", "blueprints", "models", "flask", "prometheus_client",
                                           "gevent"})
    print(json.dumps({"dir": os.environ["PROMETHEUS_MULTIPROC_DIR"], "loaded": loaded,
                      "worker_class": settings["worker_class"], "preload": settings["preload_app"]}))
""")


def test_gunicorn_conf_sets_a_fresh_multiproc_dir_and_imports_no_app_code(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", GUNICORN_CONF],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["loaded"] == [] and report["worker_class"] == "gevent" and report["preload"] is False
    path = Path(report["dir"])
    assert path.is_dir() and list(path.iterdir()) == []
    path.rmdir()


def test_gunicorn_hooks_wipe_stale_files_and_mark_dead_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy
    from types import SimpleNamespace

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    settings = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)  # a configured directory is kept
    (tmp_path / "counter_111.db").write_bytes(b"old run")
    (tmp_path / "notes.txt").write_text("not ours")
    settings["on_starting"](None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    for name in ("counter_4242.db", "gauge_livesum_4242.db", "gauge_all_4242.db"):
        (tmp_path / name).write_bytes(b"")
    settings["child_exit"](None, SimpleNamespace(pid=4242))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db", "gauge_all_4242.db", "notes.txt"]
