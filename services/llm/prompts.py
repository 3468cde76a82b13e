"""Prompt versions, sticky A/B assignment and sandboxed rendering (user text is only ever data)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from .errors import PromptError
from .types import ChatMessage, Tier


@dataclass(frozen=True, slots=True)
class PromptVersion:
    """One active version of a named prompt, as stored in the prompt table."""

    name: str
    version: int
    system: str
    user_template: str
    required_variables: tuple[str, ...] = ()
    tier: Tier | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    variant: str = "A"
    traffic_pct: float = 100.0
    category: str = ""


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """A prompt ready to send."""

    prompt: PromptVersion
    system: str
    messages: tuple[ChatMessage, ...]


class PromptSource(Protocol):
    """Where prompt versions come from (the app reads its prompt table; tests use a dict)."""

    def active_versions(self, name: str) -> Sequence[PromptVersion]:
        """Every active version of `name` (one per A/B variant); empty when unknown."""
        ...


class InMemoryPromptSource:
    """Prompt versions held in memory."""

    def __init__(self, versions: Sequence[PromptVersion] = ()) -> None:
        self._versions: dict[str, list[PromptVersion]] = {}
        for version in versions:
            self.add(version)

    def add(self, version: PromptVersion) -> None:
        """Register an active version."""
        self._versions.setdefault(version.name, []).append(version)

    def active_versions(self, name: str) -> Sequence[PromptVersion]:
        """Active versions of `name`."""
        return tuple(self._versions.get(name, ()))


def choose_variant(versions: Sequence[PromptVersion], unit: str) -> PromptVersion:
    """Sticky assignment: the same `unit` (user id) always gets the same variant, split by traffic %."""
    if not versions:
        raise PromptError("no active prompt version")
    ordered = sorted(versions, key=lambda v: (v.variant, v.version))
    if len(ordered) == 1:
        return ordered[0]
    total = sum(max(v.traffic_pct, 0.0) for v in ordered) or float(len(ordered))
    digest = hashlib.sha256(f"{ordered[0].name}:{unit}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * total
    upto = 0.0
    for version in ordered:
        upto += max(version.traffic_pct, 0.0)
        if point < upto:
            return version
    return ordered[-1]


class PromptRenderer:
    """Renders versions in a Jinja2 sandbox with StrictUndefined; compiled templates are reused."""

    def __init__(self) -> None:
        # autoescape off: prompts are plain text, and values are never re-parsed as templates.
        self._env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        self._compiled: dict[tuple[str, int, str, str], Any] = {}
        self._lock = threading.Lock()

    def render(self, prompt: PromptVersion, variables: Mapping[str, Any]) -> RenderedPrompt:
        """System and user text; PromptError names any missing variable."""
        missing = [name for name in prompt.required_variables if name not in variables]
        if missing:
            raise PromptError(f"prompt {prompt.name!r} v{prompt.version} is missing variables: {', '.join(missing)}")
        try:
            system = self._template(prompt, "system", prompt.system).render(variables)
            user = self._template(prompt, "user", prompt.user_template).render(variables)
        except UndefinedError as exc:
            raise PromptError(f"prompt {prompt.name!r} v{prompt.version}: {exc.message}") from exc
        except TemplateError as exc:
            raise PromptError(f"prompt {prompt.name!r} v{prompt.version} failed to render: {exc}") from exc
        return RenderedPrompt(prompt, system.strip(), (ChatMessage("user", user.strip()),))

    def _template(self, prompt: PromptVersion, part: str, source: str) -> Any:
        key = (prompt.name, prompt.version, part, source)  # str hashes are cached by CPython: cheap
        template = self._compiled.get(key)
        if template is None:
            try:
                template = self._env.from_string(source)
            except TemplateError as exc:
                raise PromptError(f"prompt {prompt.name!r} v{prompt.version} {part} is not valid Jinja: {exc}") from exc
            with self._lock:
                self._compiled[key] = template
        return template
