"""The fake provider speaks the real wire formats (checked with raw HTTP and with the SDKs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anthropic
import httpx2
import openai

from devtools.fake_llm import FakeLLMServer, count_tokens, embed

ROOT = Path(__file__).resolve().parents[3]


def _events(body: str) -> list[tuple[str | None, str]]:
    out = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines.get("event"), lines["data"]))
    return out


def test_anthropic_stream_has_the_exact_event_sequence(fake: FakeLLMServer) -> None:
    fake.add(text="Hello there, merchandiser.")
    body = {
        "model": "claude-haiku-5-5",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    raw = httpx2.post(f"{fake.url}/v1/messages", json=body).text
    events = _events(raw)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    start = json.loads(events[0][1])["message"]["usage"]
    final = json.loads(events[-2][1])["usage"]
    assert start["input_tokens"] == fake.calls[-1].usage["prompt"]
    assert final["output_tokens"] == count_tokens("Hello there, merchandiser.")


def test_openai_stream_ends_with_the_usage_chunk_and_done(fake: FakeLLMServer) -> None:
    body = {
        "model": "gpt-5.6-luna",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "Hi"}],
    }
    events = _events(httpx2.post(f"{fake.url}/v1/chat/completions", json=body).text)
    assert events[-1] == (None, "[DONE]")
    usage_chunk = json.loads(events[-2][1])
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["prompt_tokens"] == fake.calls[-1].usage["prompt"]


def test_sdks_parse_the_fake_responses(fake: FakeLLMServer) -> None:
    with anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0) as claude:
        message = claude.messages.create(
            model="claude-sonnet-5-5", max_tokens=20, messages=[{"role": "user", "content": "Hi"}]
        )
    assert message.usage.input_tokens == fake.calls[-1].usage["prompt"]
    with openai.OpenAI(api_key="k", base_url=f"{fake.url}/v1", max_retries=0) as gpt:
        completion = gpt.chat.completions.create(model="gpt-5.6-terra", messages=[{"role": "user", "content": "Hi"}])
        assert completion.usage is not None and completion.usage.completion_tokens == fake.calls[-1].usage["completion"]
        vectors = gpt.embeddings.create(model="text-embedding-3-small", input=["a b c", "a b d"])
    assert len(vectors.data) == 2 and vectors.data[0].embedding == embed("a b c")


def test_errors_carry_status_and_retry_after(fake: FakeLLMServer) -> None:
    fake.add(error="429", retry_after=3)
    response = httpx2.post(f"{fake.url}/v1/messages", json={"model": "m", "messages": []})
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.json()["error"]["type"] == "rate_limit_error"
    fake.add(error="529")
    assert httpx2.post(f"{fake.url}/v1/messages", json={"model": "m"}).json()["error"]["type"] == "overloaded_error"


def test_control_endpoint_scripts_responses(fake: FakeLLMServer) -> None:
    httpx2.post(f"{fake.url}/_control/script", json={"text": "scripted!", "contains": "magic"})
    body = {"model": "gpt-5.6-luna", "messages": [{"role": "user", "content": "the magic word"}]}
    answer = httpx2.post(f"{fake.url}/v1/chat/completions", json=body).json()
    assert answer["choices"][0]["message"]["content"] == "scripted!"
    assert httpx2.get(f"{fake.url}/_control/calls").json()[-1]["text"] == "scripted!"


def test_embeddings_are_deterministic_and_similar_texts_are_close() -> None:
    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    base = "cola sells out on friday in the gym"
    assert embed(base) == embed(base)
    assert cosine(embed(base), embed(base + " machine")) > cosine(embed(base), embed("quarterly tax filing rules"))


def test_runs_as_a_module() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "devtools.fake_llm", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as proc:  # closes the pipe on the way out
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().split()[4]
            body = {"model": "claude-haiku-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}
            assert httpx2.post(f"{url}/v1/messages", json=body).json()["type"] == "message"
        finally:
            proc.terminate()
            proc.wait(timeout=5)
