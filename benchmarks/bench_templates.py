"""Templates: a render from the client's cache vs parsing and compiling the template each time.

A 10 KB prompt with 5 variables (one in a conditional, one a loop), read through
``PromptClient.render`` (the text from memory, its parsed template kept per text) and,
side by side, ``Template.parse(text).render(...)`` on every call, as a client without a
compiled-template cache would. Includes are not part of this yet.

Run alone: ``python benchmarks/bench_templates.py`` (or via ``benchmarks/run.py``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.servers import TestServer  # noqa: E402

from dynamic_prompt.core.config import Settings  # noqa: E402
from dynamic_prompt.core.templates import Template  # noqa: E402
from dynamic_prompt.live.client import PromptClient  # noqa: E402
from dynamic_prompt.server import ServerTarget  # noqa: E402
from dynamic_prompt.store import PromptStore  # noqa: E402

NAME = "tpl"
VARIABLES: dict[str, Any] = {"user": "Ada", "company": "Northwind", "tier": "gold", "tools": ["search", "refund"],
                             "language": "English"}


def template() -> str:
    head = ("You are the support agent of {{ company }}, talking to {{ user }} in {{ language }}.\n"
            "{% if tier == 'gold' %}This customer has priority support.\n{% endif %}"
            "Tools:\n{% for tool in tools %}- {{ tool }}\n{% endfor %}\n")
    body = "Background line for the benchmark prompt, kept as plain text.\n"
    return head + body * ((10_000 - len(head)) // len(body))


def _best_us(call: Any, n: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter_ns() - start) / n / 1000)
    return best


def run() -> list[tuple[str, str, str]]:
    server = TestServer().start()
    try:
        async def seed() -> None:
            store = PromptStore.connect(ServerTarget(server.url, "bench"), Settings(redis_url=server.url))
            try:
                await store.load(NAME, template(), kind="text", force=True)
            finally:
                await store.aclose()

        asyncio.run(seed())
        with PromptClient(server.url, announce=False) as client:
            expected = Template.parse(template()).render(VARIABLES).text
            deadline = time.monotonic() + 10
            while client.read(NAME).source != "memory":
                if time.monotonic() > deadline:
                    raise RuntimeError("the client never served from memory")
                time.sleep(0.005)
            assert client.render(NAME, VARIABLES) == expected
            cached = _best_us(lambda: client.render(NAME, VARIABLES), 2_000)
            text = client.get_active(NAME) or ""
            each = _best_us(lambda: Template.parse(text).render(VARIABLES), 200)
    finally:
        server.cleanup()
    what = "render a 10 KB template, 5 variables"
    return [
        (what, "PromptClient.render (text and parsed template from memory)", f"{cached:,.1f} us"),
        (what, "Template.parse + render on every call", f"{each:,.1f} us"),
        (what, "ratio", f"{each / cached:,.1f}x faster"),
    ]


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
