"""Planogram versions: a stale or concurrent save is a 409, never a silent overwrite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from extensions import db
from models import Device, PlanogramVersion
from services.errors import Conflict
from services.merchandising.store import current_assignment, save_version
from tests.csvdata import write_folder


@pytest.fixture
def device_pk(app: Flask, runner: Any, tmp_path: Path) -> int:
    assert runner.invoke(args=["import-data", str(write_folder(tmp_path / "f")), "--quiet"]).exit_code == 0
    with app.app_context():
        return int(db.session.scalar(select(Device.id).where(Device.device_id == "D1")) or 0)


def test_save_with_current_base_creates_next_version(app: Flask, device_pk: int) -> None:
    with app.app_context():
        device = db.session.get(Device, device_pk)
        assert device is not None
        assignment = current_assignment(device)
        assignment["A3"] = assignment["A2"]
        version = save_version(device, assignment, author_id=None, source="editor", base_version=1)
        db.session.commit()
        assert version.version_number == 2 and device.planogram_version == 2
        assert current_assignment(device)["A3"] == assignment["A2"]
        statuses = list(db.session.scalars(select(PlanogramVersion.status).order_by(PlanogramVersion.id)))
        assert statuses.count("active") == 2  # one per device (D1 and D2)


def test_stale_base_version_is_409(app: Flask, device_pk: int) -> None:
    with app.app_context():
        device = db.session.get(Device, device_pk)
        assert device is not None
        save_version(device, current_assignment(device), author_id=None, source="editor", base_version=1)
        db.session.commit()
        with pytest.raises(Conflict) as info:
            save_version(device, {}, author_id=None, source="editor", base_version=1)
        assert info.value.code == "stale_version"
        assert info.value.details == {"base_version": 1, "current_version": 2}


def test_concurrent_saves_from_two_sessions_do_not_overwrite(app: Flask, device_pk: int) -> None:
    with app.app_context():
        mine = db.session.get(Device, device_pk)
        assert mine is not None
        base = current_assignment(mine)
        with app.app_context():  # another request, its own session, saves first
            theirs = db.session.get(Device, device_pk)
            assert theirs is not None
            save_version(theirs, base, author_id=None, source="editor", base_version=1)
            db.session.commit()
        with pytest.raises(Conflict):
            save_version(mine, base, author_id=None, source="editor", base_version=1)
        db.session.rollback()
        assert db.session.scalar(select(Device.planogram_version).where(Device.id == device_pk)) == 2
