"""Run the fake provider: `python -m devtools.fake_llm --port 8099 [--failure-rate 0.3] [--invalid-rate 0.2]
[--latency 0.05]`. Every feature gets a scripted valid reply in its output schema (devtools/fake_llm/replies.py),
reported under the model name "fake-<requested model>"."""

from __future__ import annotations

import argparse

from .server import FakeLLMServer


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; point ANTHROPIC_BASE_URL / OPENAI_BASE_URL (+/v1) at it."""
    parser = argparse.ArgumentParser(prog="python -m devtools.fake_llm", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument(
        "--invalid-rate", type=float, default=0.0, help="share of feature replies that fail their schema"
    )
    parser.add_argument("--model-prefix", default="fake-", help='prefix of the reported model name (default "fake-")')
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--prompt-cache", action="store_true", help="report repeated system prompts as cached")
    args = parser.parse_args(argv)
    server = FakeLLMServer(args.host, args.port, model_prefix=args.model_prefix)
    server.script.set_failure_rate(args.failure_rate)
    server.script.set_invalid_rate(args.invalid_rate, seed=1)
    server.script.latency_s = args.latency
    server.script.prompt_cache = args.prompt_cache
    print(
        f"fake LLM provider on {server.url} (scripted test replies; Anthropic: {server.url}, OpenAI: {server.url}/v1)",
        flush=True,
    )
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
