"""Model warm-up (issue 13): models fitted in the background at start-up, after imports and on demand; the
editor's model status; identical answers for identical optimisation requests, cold or warm."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from extensions import db
from models import Device
from services.merchandising import warmup as model_warmup
from services.merchandising.data import DATA, MODELS, model_ready, version_key
from tests.api.test_stream_optimization import OFFICE, Stream, only_events, start
from tests.csvdata import GOOD
from tests.demo_fleet import seed_fleet
from tests.waiting import wait_for


@pytest.fixture
def settings() -> dict[str, Any]:
    return {"MODEL_WARMUP": True, "OPTIMIZATION_CHILD_PROCESSES": False}


@pytest.fixture
def app(make_app: Callable[..., Flask], settings: dict[str, Any]) -> Flask:
    app = make_app(**settings)
    app.config["MODEL_WARMUP"] = False  # the seed's import queues no warm-up (an RQ worker would run it)
    seed_fleet(app, seed=4, days=30)
    app.config["MODEL_WARMUP"] = settings["MODEL_WARMUP"]
    MODELS.clear()  # every test starts cold
    return app


@pytest.fixture(autouse=True)
def worker(rq_worker: None) -> None:
    """With Redis, jobs (background ones too) wait for an RQ worker: one runs in a thread here."""


def fitted(app: Flask, device_id: str) -> bool:
    with app.app_context():
        return model_ready(version_key(device_id))


def test_start_up_fits_every_device_in_the_background(app: Flask) -> None:
    with app.app_context():
        devices = list(db.session.scalars(select(Device.device_id)))
    assert devices and not any(fitted(app, d) for d in devices)
    model_warmup.on_start(app)
    wait_for(lambda: all(fitted(app, d) for d in devices), "every device's model fitted after start-up")


def test_model_status_queues_a_missing_model_once_then_reports_ready(
    app: Flask, client: FlaskClient, viewer: dict[str, Any]
) -> None:
    url = f"/api/planogram/model-status?device_id={OFFICE}"
    first = client.get(url, headers=viewer["headers"])
    assert first.status_code == 200
    assert first.json["ready"] is False and first.json["fitted"] is False
    wait_for(lambda: client.get(url, headers=viewer["headers"]).json["ready"], "the queued fit finished")
    assert client.get("/api/planogram/model-status?device_id=NOPE", headers=viewer["headers"]).status_code == 404
    assert client.get("/api/planogram/model-status", headers=viewer["headers"]).status_code == 422
    assert client.get(url).status_code == 401


def test_an_import_warms_the_devices_it_touched_once_it_commits(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    app.extensions[model_warmup.SERVING_KEY] = True  # as wsgi's on_start marks a serving process
    files = {name: (io.BytesIO(GOOD[name].encode()), name) for name in GOOD}
    response = client.post(
        "/api/imports", data=files, headers=merchandiser["headers"], content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.json
    wait_for(lambda: fitted(app, "D1") and fitted(app, "D2"), "the imported devices' models fitted")


def test_a_rejected_import_queues_nothing(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.runtime import backends

    app.extensions[model_warmup.SERVING_KEY] = True
    submitted: list[Any] = []
    with app.app_context():
        jobs = backends().jobs
    original = jobs.submit

    def spy(*args: Any, **kwargs: Any) -> str:
        submitted.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(jobs, "submit", spy)
    bad = GOOD["products.csv"].replace("1.80", "abc")
    files = {name: (io.BytesIO((bad if name == "products.csv" else GOOD[name]).encode()), name) for name in GOOD}
    response = client.post(
        "/api/imports", data=files, headers=merchandiser["headers"], content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert not [a for a in submitted if a[0] == model_warmup.WARM_FUNCTION]


@pytest.mark.parametrize("settings", [{"MODEL_WARMUP": False}])
def test_identical_requests_give_identical_answers_cold_or_warm(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    body = {"objective": "margin", "max_changed_slots": 8}
    answers = []
    for cold in (True, False, True):
        if cold:
            MODELS.clear()
            DATA.clear()
        events = only_events(Stream(start(client, merchandiser, **body)).rest())
        assert events[-1]["event"] == "done", events[-1]
        done = events[-1]["data"]
        answers.append(
            (
                {k: done[k] for k in ("planogram", "objective", "changes", "slots_changed")},
                [e["data"]["planogram"] for e in events if e["event"] == "progress"],
            )
        )
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0]["slots_changed"] <= 8


def test_the_editor_page_says_fitting_until_the_model_is_ready(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    from services.merchandising.editor import editor_state

    with app.app_context():
        assert editor_state(OFFICE, "merchandiser", False, "USD")["model_ready"] is False
    wait_for(lambda: fitted(app, OFFICE), "the fit the editor state queued")
    with app.app_context():
        assert editor_state(OFFICE, "merchandiser", False, "USD")["model_ready"] is True


def test_a_starting_worker_warms_no_more_models_than_its_cache_holds(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker on a 20,000-machine fleet must not spend hours fitting models its cache would drop."""
    monkeypatch.setattr(model_warmup, "MODEL_CACHE_SIZE", 2)
    with app.app_context():
        devices = list(db.session.scalars(select(Device.device_id).order_by(Device.device_id)))
        model_warmup.warm_worker()
    assert len(devices) > 2
    assert [fitted(app, d) for d in devices] == [True, True] + [False] * (len(devices) - 2)
