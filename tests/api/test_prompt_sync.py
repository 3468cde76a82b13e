"""PromptRegistry: prompts/*.yaml into the prompt table, idempotent, versioned; the SQL prompt source."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from config import BASE_DIR
from extensions import db
from models import PromptTemplate
from services.errors import ValidationFailed
from services.prompts import PromptRegistry, SqlPromptSource

FAMILIES = {
    "content_suggestion",
    "caption",
    "hashtags",
    "email_response_inquiry",
    "email_response_complaint",
    "email_response_return",
    "planogram_optimization",
    "anomaly_detection",
    "scenario_planning",
    "cross_location_patterns",
    "visual_merchandising",
    "placement_feedback",
    "performance_analysis",
}


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    """A copy of the real prompts/ that a test may edit."""
    folder = tmp_path / "prompts"
    shutil.copytree(BASE_DIR / "prompts", folder)
    return folder


def rows(app: Flask) -> list[PromptTemplate]:
    with app.app_context():
        found = list(db.session.scalars(select(PromptTemplate).order_by(PromptTemplate.id)))
        db.session.expunge_all()
        return found


def sync(app: Flask, folder: Path) -> dict[str, list[str]]:
    with app.app_context():
        report = PromptRegistry(folder).sync()
        db.session.commit()
        return report.as_dict()


def test_every_family_is_present_asks_for_json_and_caption_has_an_ab_pair(app: Flask) -> None:
    loaded = [p for _, p in PromptRegistry(BASE_DIR / "prompts").load()]
    assert {p.name for p in loaded} == FAMILIES
    assert all("JSON" in p.system_prompt for p in loaded)
    captions = sorted((p.variant, p.traffic_percent) for p in loaded if p.name == "caption")
    assert captions == [("A", 50), ("B", 50)]


def test_sync_is_idempotent(app: Flask, prompts_dir: Path) -> None:
    first = sync(app, prompts_dir)
    assert len(first["created"]) == 14 and first["updated"] == first["deactivated"] == []
    before = [(r.id, r.version, r.content_hash) for r in rows(app)]
    second = sync(app, prompts_dir)
    assert second["created"] == second["updated"] == [] and len(second["unchanged"]) == 14
    assert [(r.id, r.version, r.content_hash) for r in rows(app)] == before


def test_a_changed_file_becomes_a_new_version_and_a_removed_variant_is_deactivated(
    app: Flask, prompts_dir: Path
) -> None:
    sync(app, prompts_dir)
    path = prompts_dir / "hashtags.yaml"
    path.write_text(path.read_text().replace("temperature: 0.6", "temperature: 0.5"))
    (prompts_dir / "caption_b.yaml").unlink()
    report = sync(app, prompts_dir)
    assert report["updated"] == ["hashtags/A"] and report["deactivated"] == ["caption/B"]
    hashtags = [r for r in rows(app) if r.name == "hashtags"]
    old, new = hashtags
    assert (old.version, old.is_active, new.version, new.is_active) == (1, False, 2, True)
    assert new.parent_version_id == old.id and new.temperature == 0.5
    assert [r.is_active for r in rows(app) if r.name == "caption"] == [True, False]
    assert sync(app, prompts_dir)["updated"] == []  # the new version is now the unchanged one


def test_sql_source_returns_active_variants_and_caches_briefly(app: Flask, prompts_dir: Path) -> None:
    sync(app, prompts_dir)
    source = SqlPromptSource(app, ttl_s=60)
    versions = source.active_versions("caption")
    assert sorted((v.variant, v.traffic_pct, v.tier) for v in versions) == [("A", 50.0, "fast"), ("B", 50.0, "fast")]
    assert source.active_versions("missing") == ()
    (prompts_dir / "caption_b.yaml").unlink()
    sync(app, prompts_dir)
    assert len(source.active_versions("caption")) == 2  # still cached
    source.invalidate()
    assert [v.variant for v in source.active_versions("caption")] == ["A"]
    assert len(SqlPromptSource(app, ttl_s=0).active_versions("caption")) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: x\ncategory: c\nuser_template: 'Hi {{ a }}'\nrequired_variables: [a, b]\n", "not used"),
        ("name: x\ncategory: c\nuser_template: 'Hi {{ a '\n", "not valid Jinja"),
        ("name: x\ncategory: c\nuser_template: hi\ntemperature: 9\n", "invalid prompt file"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_files_are_rejected_with_the_file_named(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(content)
    with pytest.raises(ValidationFailed, match=message) as info:
        PromptRegistry(tmp_path).load()
    assert "bad.yaml" in info.value.message


def test_a_variant_defined_twice_is_rejected(prompts_dir: Path) -> None:
    shutil.copy(prompts_dir / "hashtags.yaml", prompts_dir / "hashtags_copy.yaml")
    with pytest.raises(ValidationFailed, match="also defined in"):
        PromptRegistry(prompts_dir).load()


def test_cli_sync_and_list(app: Flask, runner: Any, prompts_dir: Path) -> None:
    app.config["PROMPTS_DIR"] = str(prompts_dir)
    first = runner.invoke(args=["prompts", "sync"])
    assert first.exit_code == 0, first.output
    assert "14 created" in first.output and "created: caption/B" in first.output
    assert "14 unchanged" in runner.invoke(args=["prompts", "sync"]).output
    listing = runner.invoke(args=["prompts", "list"]).output
    assert "caption" in listing and "50%" in listing and "active" in listing
    (prompts_dir / "oops.yaml").write_text("name: oops\ncategory: c\n")
    failed = runner.invoke(args=["prompts", "sync"])
    assert failed.exit_code == 1 and "oops.yaml" in failed.output and "user_template" in failed.output


def test_create_app_does_not_touch_the_database(make_app: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "db.sqlite"
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{missing}", LLM_PROVIDER=None)
    assert "planogram.llm" in app.extensions and not missing.exists()
