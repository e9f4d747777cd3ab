"""A chat loop that takes its system prompt from dynamic-prompt on every turn.

Run it offline (a stub model answers)::

    python examples/chat_loop.py --turns 3
    python examples/chat_loop.py --turns 3 --style anthropic --name support

While it runs, change the prompt from another terminal (``dprompt modify
"change tone to sarcastic"``): the next turn uses the new text. Reading the
prompt on every turn costs a dict lookup, not a Redis round trip.

With no ``--redis-url`` / ``REDIS_URL`` it uses the same server as ``dprompt``
(the shared embedded one by default).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dynamic_prompt import PromptClient  # noqa: E402

FALLBACK_PROMPT = "You are a helpful assistant."
"""Used until someone loads a prompt (`dprompt load prompts/... `)."""


class StubModel:
    """Stands in for an LLM API: answers from the call it was given, so the shape shows."""

    def openai_chat(self, *, model: str, messages: Sequence[dict[str, str]]) -> str:
        """Shaped like ``client.chat.completions.create(model=..., messages=[...])``."""
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
        return self._answer(system, messages[-1]["content"])

    def anthropic_messages(self, *, model: str, system: str, messages: Sequence[dict[str, str]],
                           max_tokens: int) -> str:
        """Shaped like ``client.messages.create(model=..., system=..., messages=[...])``."""
        return self._answer(system, messages[-1]["content"])

    @staticmethod
    def _answer(system: str, question: str) -> str:
        first = next((line.strip() for line in system.splitlines() if line.strip()), "(empty prompt)")
        tone = next((line.split(":", 1)[1].strip() for line in system.splitlines()
                     if line.lower().startswith("tone:")), "neutral")
        return f"[{tone}] You asked {question!r}; my instructions begin: {first[:60]!r}"


def turn(prompts: PromptClient, model: StubModel, style: str, name: str, question: str,
         history: list[dict[str, str]]) -> str:
    """One turn: read the current system prompt (from memory), call the model, keep history."""
    system = prompts.get_active(name) or FALLBACK_PROMPT
    history.append({"role": "user", "content": question})
    if style == "openai":
        reply = model.openai_chat(model="gpt-4o-mini", messages=[{"role": "system", "content": system}, *history])
    else:
        reply = model.anthropic_messages(model="claude-sonnet-4-5", system=system, messages=history,
                                         max_tokens=512)
    history.append({"role": "assistant", "content": reply})
    return reply


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3, help="how many turns to run")
    parser.add_argument("--name", default="default", help="the prompt's name")
    parser.add_argument("--style", choices=("openai", "anthropic"), default="openai")
    parser.add_argument("--redis-url", default=None, help="the server (default: like dprompt)")
    args = parser.parse_args(argv)
    model = StubModel()
    history: list[dict[str, str]] = []
    with PromptClient(args.redis_url) as prompts:
        for i in range(1, args.turns + 1):
            question = f"question {i}"
            print(f"turn {i}: {turn(prompts, model, args.style, args.name, question, history)}", flush=True)
        stats = prompts.stats()
        print(f"reads: {stats.hits} from memory, {stats.misses} from Redis; feed: {stats.feed_mode}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
