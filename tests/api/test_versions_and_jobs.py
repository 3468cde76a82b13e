"""Saving, listing, diffing and rolling back planogram versions; fleet batch optimisation jobs."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.conftest import REDIS_MODE
from tests.demo_fleet import seed_fleet
from tests.waiting import events_until

OFFICE = "DEMO-OFF-01"


@pytest.fixture
def fleet(app: Flask) -> None:
    seed_fleet(app, seed=6, days=30)


def current(client: Any, user: dict[str, Any]) -> dict[str, Any]:
    return client.get(f"/api/devices/{OFFICE}/planogram", headers=user["headers"]).json


@pytest.mark.usefixtures("fleet")
def test_save_list_diff_and_rollback(client: Any, merchandiser: dict[str, Any]) -> None:
    h = merchandiser["headers"]
    plano = current(client, merchandiser)
    slots = {s: v["sku"] for s, v in plano["slots"].items()}
    # The demo's operator planogram puts a sku's facings side by side: swap E1 with the next different sku.
    other = next(f"E{c}" for c in range(2, 9) if slots[f"E{c}"] != slots["E1"])
    slots["E1"], slots[other] = slots[other], slots["E1"]
    saved = client.post(
        f"/api/devices/{OFFICE}/planogram",
        headers=h,
        json={"base_version": plano["version"], "slots": slots, "note": f"swap E1/{other}"},
    )
    assert saved.status_code == 201, saved.json
    assert saved.json["version"] == 2 and saved.json["status"] == "active"
    listing = client.get(f"/api/devices/{OFFICE}/planogram/versions", headers=h).json["items"]
    assert [(v["version"], v["status"]) for v in listing] == [(2, "active"), (1, "archived")]
    diff = client.get(f"/api/devices/{OFFICE}/planogram/diff?from=1&to=2", headers=h).json["changes"]
    assert [c["slot"] for c in diff] == ["E1", other]
    stale = client.post(f"/api/devices/{OFFICE}/planogram", headers=h, json={"base_version": 1, "slots": slots})
    assert stale.status_code == 409 and stale.json["error"]["code"] == "stale_version"
    back = client.post(f"/api/devices/{OFFICE}/planogram/rollback", headers=h, json={"version": 1, "base_version": 2})
    assert back.status_code == 201 and back.json["version"] == 3
    assert {s: v["sku"] for s, v in current(client, merchandiser)["slots"].items()} == {
        s: v["sku"] for s, v in plano["slots"].items()
    }


@pytest.mark.usefixtures("fleet")
def test_save_rejects_hard_rule_breaks_and_unknowns(client: Any, merchandiser: dict[str, Any]) -> None:
    h = merchandiser["headers"]
    version = current(client, merchandiser)["version"]
    warm = client.post(
        f"/api/devices/{OFFICE}/planogram", headers=h, json={"base_version": version, "slots": {"A1": "DEMO-WATER-500"}}
    )
    assert warm.status_code == 422
    assert warm.json["error"]["details"][0]["rule_id"] == "temperature"
    unknown = client.post(
        f"/api/devices/{OFFICE}/planogram",
        headers=h,
        json={"base_version": version, "slots": {"Z9": "DEMO-MINTS", "A1": "NOPE"}},
    )
    assert unknown.status_code == 422
    assert {d["field"] for d in unknown.json["error"]["details"]} == {"slots.Z9", "slots.A1"}
    assert current(client, merchandiser)["version"] == version


@pytest.mark.usefixtures("fleet")
def test_viewer_cannot_save(client: Any, viewer: dict[str, Any]) -> None:
    response = client.post(
        f"/api/devices/{OFFICE}/planogram", headers=viewer["headers"], json={"base_version": 1, "slots": {}}
    )
    assert response.status_code == 403


def _wait(app: Flask, client: Any, user: dict[str, Any], job_id: str, total: int) -> dict[str, Any]:
    """The job's status once every device has published its result (blocking reads of the job's events)."""
    events_until(app, f"job:{job_id}", lambda seen: sum(e.type == "progress" for e in seen) == total)
    return client.get(f"/api/jobs/{job_id}", headers=user["headers"]).json


@pytest.mark.usefixtures("fleet")
def test_batch_optimize_job_reports_progress_and_results(
    app: Flask, client: Any, merchandiser: dict[str, Any], viewer: dict[str, Any]
) -> None:
    response = client.post(
        "/api/planogram/batch-optimize",
        headers=merchandiser["headers"],
        json={"device_ids": [OFFICE, "DEMO-GYM-01"], "objective": "revenue"},
    )
    assert response.status_code == 202
    job_id = response.json["job_id"]
    if REDIS_MODE:  # jobs wait in Redis for an RQ worker on any machine; run one here
        from rq import SimpleWorker

        from services.runtime import backends

        with app.app_context():
            SimpleWorker(["planogram"], connection=backends().redis).work(burst=True)
    body = _wait(app, client, merchandiser, job_id, total=2)
    assert body["status"] == "finished" and body["progress"] == {"completed": 2, "total": 2}
    assert [(r["device_id"], r["ok"]) for r in body["results"]] == [(OFFICE, True), ("DEMO-GYM-01", True)]
    assert (
        body["results"][0]["result"]["revenue_per_day"]
        >= body["results"][0]["result"]["current_revenue_per_day"] - 1e-6
    )
    assert client.get(f"/api/jobs/{job_id}", headers=viewer["headers"]).status_code == 403
    assert client.get("/api/jobs/nope", headers=merchandiser["headers"]).status_code == 404


@pytest.mark.usefixtures("fleet")
def test_batch_rejects_unknown_devices(client: Any, merchandiser: dict[str, Any]) -> None:
    response = client.post(
        "/api/planogram/batch-optimize", headers=merchandiser["headers"], json={"device_ids": ["NOPE"]}
    )
    assert response.status_code == 422
    assert response.json["error"]["details"] == [{"field": "device_ids", "reason": "unknown device 'NOPE'"}]


@pytest.mark.usefixtures("fleet")
def test_anomaly_detection_answers_with_evidence(client: Any, viewer: dict[str, Any]) -> None:
    response = client.post("/api/planogram/anomaly-detection", headers=viewer["headers"], json={"device_id": OFFICE})
    assert response.status_code == 200
    for item in response.json["anomalies"]:
        assert item["kind"] in ("stopped", "drop", "price") and item["evidence"]


@pytest.mark.usefixtures("fleet")
def test_cli_batch_optimize_queues_the_nightly_run_of_the_real_fleet(
    app: Flask, client: Any, admin: dict[str, Any]
) -> None:
    runner = app.test_cli_runner()
    only_demo = runner.invoke(args=["batch-optimize"])  # the fleet is all demo: nothing real to optimise
    assert only_demo.exit_code != 0 and "no devices to optimise" in only_demo.output
    unknown = runner.invoke(args=["batch-optimize", "NOPE"])
    assert unknown.exit_code != 0 and "unknown device(s): NOPE" in unknown.output
    result = runner.invoke(args=["batch-optimize", "--include-demo", OFFICE, "--objective", "revenue"])
    assert result.exit_code == 0, result.output
    job_id = result.output.split()[1].rstrip(":")
    if REDIS_MODE:  # queued in Redis for any worker: nothing waited for it
        from rq import SimpleWorker

        from services.runtime import backends

        with app.app_context():
            SimpleWorker(["planogram"], connection=backends().redis).work(burst=True)
    else:  # embedded: the command ran the job on its own threads and printed the outcome
        assert f"  {OFFICE}: +" in result.output and "finished: 1 of 1 device(s) optimised" in result.output
    body = _wait(app, client, admin, job_id, total=1)
    assert body["status"] == "finished" and body["objective"] == "revenue"
    assert [(r["device_id"], r["ok"]) for r in body["results"]] == [(OFFICE, True)]


@pytest.mark.usefixtures("fleet")
@pytest.mark.skipif(not REDIS_MODE, reason="jobs wait in a queue only with Redis (TEST_MODE=redis)")
def test_cancelling_a_queued_batch_drops_its_worker_jobs(
    app: Flask, client: Any, merchandiser: dict[str, Any], viewer: dict[str, Any], admin: dict[str, Any]
) -> None:
    from rq import SimpleWorker

    from services.runtime import backends

    started = client.post(
        "/api/planogram/batch-optimize",
        headers=merchandiser["headers"],
        json={"device_ids": [OFFICE, "DEMO-GYM-01"], "objective": "revenue"},
    )
    job_id = started.json["job_id"]
    assert client.delete(f"/api/jobs/{job_id}", headers=viewer["headers"]).status_code == 403
    assert client.delete("/api/jobs/nope", headers=merchandiser["headers"]).status_code == 404
    cancelled = client.delete(f"/api/jobs/{job_id}", headers=merchandiser["headers"])
    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json == {
        "job_id": job_id,
        "cancel_requested": True,
        "parts_cancelled": 2,
        "parts_stopping": 0,
        "status": "cancelled",
    }
    with app.app_context():  # a worker starting now finds nothing to run
        assert backends().jobs.queue_depth == 0
        SimpleWorker(["planogram"], connection=backends().redis).work(burst=True)
    body = client.get(f"/api/jobs/{job_id}", headers=admin["headers"]).json  # an admin may look too
    assert body["status"] == "cancelled" and body["progress"] == {"completed": 0, "total": 2}


@pytest.mark.usefixtures("fleet")
def test_a_retried_batch_share_skips_the_devices_already_reported(
    app: Flask, client: Any, admin: dict[str, Any]
) -> None:
    from services.merchandising import batch as planogram_jobs
    from services.runtime import backends

    with app.app_context():  # a share that crashed after its first device, run again by the runner's retry
        backends().events.publish(
            "job:j1",
            "started",
            {
                "kind": "batch_optimize",
                "objective": "revenue",
                "device_ids": [OFFICE, "DEMO-GYM-01"],
                "total": 2,
                "user_id": 0,
                "parts": 1,
            },
        )
        backends().events.publish(
            "job:j1", "progress", {"index": 0, "device_id": OFFICE, "ok": False, "error": "first attempt"}
        )
        planogram_jobs.run_batch("j1", [(0, OFFICE), (1, "DEMO-GYM-01")], "revenue", 2)
    body = client.get("/api/jobs/j1", headers=admin["headers"]).json
    assert [(r["device_id"], r["ok"]) for r in body["results"]] == [(OFFICE, False), ("DEMO-GYM-01", True)]
    assert body["status"] == "finished"
