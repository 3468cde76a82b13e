"""One shape for every content and email feature: run the pipeline, check the output, store a draft.

A `Feature` names its prompt, its output schema and a `finish` step that turns the validated output
(AI or rule-based) into the draft text plus checked structured data and flags. Chat revisions
(services/review/conversations.py) reuse the same feature with the stored prompt variables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel

from extensions import db
from models import GeneratedContent, User
from services import ai
from services.errors import AppError
from services.llm import ContextBlock, FallbackAnswer, FallbackFn, LLMResult, PromptError
from services.llm.preparation import CallSpec
from services.review import drafts as review

Params = Mapping[str, Any]
P = ParamSpec("P")


class PromptsNotLoaded(AppError):
    """The feature's prompt is not in the prompt table: a deployment step was skipped."""

    status = 503
    code = "prompts_not_loaded"


R = TypeVar("R")


def reads_before_call(func: Callable[P, R]) -> Callable[P, R]:
    """Run a feature with autoflush off, so no pending write (e.g. the auth guard's token touch) takes the
    database write lock before the LLM call: on SQLite the ledger's own session would wait for it.
    The feature's writes after the call flush explicitly."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with db.session.no_autoflush:
            return func(*args, **kwargs)

    return wrapper


@dataclass
class Finished:
    """A feature's checked output: the text a human reviews, structured data, flags and confidence."""

    text: str
    output: dict[str, Any]
    flags: list[dict[str, Any]] = field(default_factory=list)
    needs_review: bool | None = None
    confidence_cap: float = 1.0


@dataclass(frozen=True)
class Feature:
    """How one feature calls the pipeline and checks its answer."""

    content_type: str
    prompt: Callable[[Params], str]
    schema: Callable[[Params], type[BaseModel]]
    finish: Callable[[BaseModel, Params], Finished]
    pii: bool = False
    paraphrase: tuple[str, ...] = ()  # free-wording variables a near cache hit may differ in


@dataclass
class Generated:
    """A pipeline result plus the feature's checked output."""

    result: LLMResult
    finished: Finished

    @property
    def confidence(self) -> float:
        """The pipeline's confidence, capped by what the checks found."""
        return round(min(self.result.confidence, self.finished.confidence_cap), 3)


def spec(
    feature: Feature,
    params: Params,
    variables: Mapping[str, Any],
    fallback: FallbackFn,
    user_id: int | None,
    tags: tuple[str, ...] = (),
    scope: str | None = None,
    context: Sequence[ContextBlock] = (),
) -> CallSpec:
    """The pipeline call of a feature (interactive or in a batch: the same call, so the same cache key)."""
    return CallSpec.build(
        feature.content_type,
        feature.prompt(params),
        variables,
        schema=feature.schema(params),
        fallback=fallback,
        user_id=None if user_id is None else str(user_id),
        tags=tags,
        pii=feature.pii,
        paraphrase=feature.paraphrase,
        scope=scope,
        context=context,
    )


def run(
    feature: Feature,
    params: Params,
    variables: Mapping[str, Any],
    fallback: FallbackFn,
    user: User,
    tags: tuple[str, ...] = (),
    scope: str | None = None,
    context: Sequence[ContextBlock] = (),
) -> Generated:
    """Call the pipeline (AI, cached or flagged fallback) and check the answer; `context` is data fitted into
    the routed tier's token budget (services/llm/structurer.py)."""
    try:
        result = ai.pipeline().call(spec(feature, params, variables, fallback, user.id, tags, scope, context))
    except PromptError as exc:
        raise PromptsNotLoaded(
            f"{exc}: run `flask prompts sync` to load prompts/*.yaml", details={"prompt_name": feature.prompt(params)}
        ) from exc
    return check(feature, params, variables, fallback, result)


def check(
    feature: Feature, params: Params, variables: Mapping[str, Any], fallback: FallbackFn, result: LLMResult
) -> Generated:
    """Apply the feature's checks to a pipeline answer (AI, cached or fallback; interactive or batched)."""
    if not isinstance(result.data, BaseModel):
        # The pipeline's generic fallback answered (the feature's own one raised and was logged): try once more
        # so the feature still returns its schema; a second failure is a programming error and surfaces.
        answer = fallback(variables)
        raw = answer.data if isinstance(answer, FallbackAnswer) else answer
        result.data = raw if isinstance(raw, BaseModel) else feature.schema(params).model_validate(raw)
    finished = feature.finish(result.data, params)
    if result.fallback_used:
        finished.needs_review = True  # a rule-based template always needs a person's eye
    return Generated(result, finished)


def store(
    feature: Feature, generated: Generated, params: Params, variables: Mapping[str, Any], user: User
) -> GeneratedContent:
    """Keep the result as a draft for review, with the inputs needed to continue it as a chat."""
    return store_for(feature, generated, params, variables, user.id)


def store_for(
    feature: Feature, generated: Generated, params: Params, variables: Mapping[str, Any], user_id: int | None
) -> GeneratedContent:
    """`store` for a user known by id (a batch job stores its drafts for whoever asked for them)."""
    finished = generated.finished
    structured = {
        "input": {"params": dict(params), "variables": dict(variables)},
        "output": finished.output,
        "flags": finished.flags,
        "needs_review": finished.needs_review,
        "fallback_reason": generated.result.fallback_reason,
    }
    return review.create_draft(
        feature.content_type, generated.result, finished.text, structured, user_id, generated.confidence
    )


def response(generated: Generated, draft: GeneratedContent) -> dict[str, Any]:
    """The API answer: the pipeline's figures (model, tokens, cost, …), the checked output and the draft."""
    result, finished = generated.result, generated.finished
    out = result.to_dict()
    out.update(
        raw_text=result.text,
        text=finished.text,
        data=finished.output,
        confidence=generated.confidence,
        flags=finished.flags,
        needs_review=finished.needs_review,
        label=review.source_label(result.fallback_used, result.fallback_reason),
        draft_id=draft.id,
        draft=review.draft_dict(draft),
    )
    return out
