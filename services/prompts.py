"""PromptRegistry: prompts/*.yaml → the prompt_templates table (versioned), and the pipeline's SQL source."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from flask import Flask
from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from extensions import db
from models import PromptTemplate
from services.errors import ValidationFailed
from services.ledger import app_engine
from services.llm import PromptVersion
from services.llm.types import Tier


class PromptFile(BaseModel):
    """The fields of one prompts/*.yaml file (one variant of one prompt)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")
    category: str = Field(min_length=1, max_length=50)
    system_prompt: str = ""
    user_template: str = Field(min_length=1)
    required_variables: list[str] = Field(default_factory=list)
    tier: Literal["fast", "balanced", "powerful"] = "balanced"
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=1000, ge=1, le=32000)
    variant: str = Field(default="A", min_length=1, max_length=50)
    traffic_percent: int = Field(default=100, ge=0, le=100)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of every field: unchanged files hash the same."""
        canonical = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class SyncReport:
    """What a sync did, by "name/variant"."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        """JSON-ready counts for the CLI."""
        return {k: sorted(v) for k, v in vars(self).items()}


def _check_templates(prompt: PromptFile, source: str) -> None:
    """Templates must parse, and every required variable must appear in them."""
    env = SandboxedEnvironment()
    used: set[str] = set()
    for part in (prompt.system_prompt, prompt.user_template):
        try:
            used |= meta.find_undeclared_variables(env.parse(part))
        except TemplateSyntaxError as exc:
            raise ValidationFailed(
                f"{source}: template is not valid Jinja: {exc.message} (line {exc.lineno})"
            ) from None
    unused = sorted(set(prompt.required_variables) - used)
    if unused:
        raise ValidationFailed(f"{source}: required variables not used by the template: {', '.join(unused)}")


class PromptRegistry:
    """Loads prompt files and syncs them into the table; run through `flask prompts sync`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def load(self) -> list[tuple[str, PromptFile]]:
        """Every prompts/*.yaml, validated; (name, variant) must be unique across files."""
        loaded: list[tuple[str, PromptFile]] = []
        seen: dict[tuple[str, str], str] = {}
        for path in sorted(self.directory.glob("*.yaml")):
            try:
                data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
                prompt = PromptFile.model_validate(data)
            except yaml.YAMLError as exc:
                raise ValidationFailed(f"{path.name}: not valid YAML: {exc}") from None
            except PydanticValidationError as exc:
                details = [{"field": ".".join(map(str, e["loc"])) or None, "reason": e["msg"]} for e in exc.errors()]
                raise ValidationFailed(f"{path.name}: invalid prompt file", details=details) from None
            _check_templates(prompt, path.name)
            key = (prompt.name, prompt.variant)
            if key in seen:
                raise ValidationFailed(f"{path.name}: {prompt.name}/{prompt.variant} is also defined in {seen[key]}")
            seen[key] = path.name
            loaded.append((path.name, prompt))
        return loaded

    def sync(self) -> SyncReport:
        """Idempotent: unchanged files do nothing; a changed file becomes version+1; gone variants go inactive.

        Flushes only; the caller commits. Versions count per prompt name, so (name, version) is unique
        and the ledger's prompt_version identifies one row.
        """
        report = SyncReport()
        files = self.load()
        active = {
            (r.name, r.variant): r
            for r in db.session.scalars(select(PromptTemplate).where(PromptTemplate.is_active.is_(True)))
        }
        for source, prompt in files:
            label = f"{prompt.name}/{prompt.variant}"
            digest = prompt.content_hash()
            current = active.pop((prompt.name, prompt.variant), None)
            if current is not None and current.content_hash == digest:
                report.unchanged.append(label)
                continue
            if current is not None:
                current.is_active = False
            db.session.add(self._row(prompt, digest, source, current))
            db.session.flush()
            (report.updated if current is not None else report.created).append(label)
        for (name, variant), row in active.items():
            row.is_active = False
            report.deactivated.append(f"{name}/{variant}")
        db.session.flush()
        return report

    def _row(self, prompt: PromptFile, digest: str, source: str, parent: PromptTemplate | None) -> PromptTemplate:
        latest = db.session.scalar(select(func.max(PromptTemplate.version)).where(PromptTemplate.name == prompt.name))
        return PromptTemplate(
            name=prompt.name,
            category=prompt.category,
            system_prompt=prompt.system_prompt,
            user_template=prompt.user_template,
            required_variables=list(prompt.required_variables),
            tier=prompt.tier,
            temperature=prompt.temperature,
            max_tokens=prompt.max_tokens,
            version=(latest or 0) + 1,
            parent_version_id=parent.id if parent is not None else None,
            is_active=True,
            variant=prompt.variant,
            traffic_percent=prompt.traffic_percent,
            content_hash=digest,
            source_file=source,
        )


def list_prompts(include_inactive: bool = False) -> list[PromptTemplate]:
    """Prompt rows by name, variant and version (active only unless asked)."""
    query = select(PromptTemplate).order_by(PromptTemplate.name, PromptTemplate.variant, PromptTemplate.version)
    if not include_inactive:
        query = query.where(PromptTemplate.is_active.is_(True))
    return list(db.session.scalars(query))


def to_version(row: PromptTemplate) -> PromptVersion:
    """The pipeline's view of one prompt row."""
    return PromptVersion(
        name=row.name,
        version=row.version,
        system=row.system_prompt,
        user_template=row.user_template,
        required_variables=tuple(row.required_variables or ()),
        tier=cast(Tier, row.tier),  # validated by PromptFile on sync
        temperature=row.temperature,
        max_tokens=row.max_tokens,
        variant=row.variant,
        traffic_pct=float(row.traffic_percent),
        category=row.category,
    )


class SqlPromptSource:
    """The pipeline's PromptSource over the prompt table.

    Active versions are cached in-process for `ttl_s` seconds (default 5) per prompt name, so a hot
    feature does not query the table on every call; a `flask prompts sync` in another process is
    therefore visible within `ttl_s`, and `invalidate()` makes it immediate in this one. Reads use
    their own short Session on the engine, so they work from job threads and never join the
    request's transaction.
    """

    def __init__(self, app: Flask, ttl_s: float = 5.0) -> None:
        self._app = app
        self._engine: Engine | None = None
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, tuple[PromptVersion, ...]]] = {}
        self._lock = threading.Lock()

    def active_versions(self, name: str) -> Sequence[PromptVersion]:
        """Every active variant of `name` (empty when unknown)."""
        now = time.monotonic()
        hit = self._cache.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        if self._engine is None:
            self._engine = app_engine(self._app)
        with Session(self._engine) as session:
            rows = session.scalars(
                select(PromptTemplate).where(PromptTemplate.name == name, PromptTemplate.is_active.is_(True))
            )
            versions = tuple(to_version(row) for row in rows)
        with self._lock:
            self._cache[name] = (now + self.ttl_s, versions)
        return versions

    def invalidate(self) -> None:
        """Forget cached versions (after a sync in this process)."""
        with self._lock:
            self._cache.clear()
