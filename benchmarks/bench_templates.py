"""Templates: a render from the client's cache vs parsing and compiling the template each time.

A 10 KB prompt with 5 variables (one in a conditional, one a loop) and 2 includes, read
through ``PromptClient.render`` (every part from memory, each compiled once per text)
and, side by side, a fresh renderer on every call (every part parsed and compiled each
time), as a client without a compiled-template cache would.

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
from dynamic_prompt.core.templates import Renderer  # noqa: E402
from dynamic_prompt.live.client import PromptClient  # noqa: E402
from dynamic_prompt.server import ServerTarget  # noqa: E402
from dynamic_prompt.store import PromptStore  # noqa: E402

NAME = "tpl"
VARIABLES: dict[str, Any] = {"user": "Ada", "company": "Northwind", "tier": "gold", "tools": ["search", "refund"],
                             "language": "English"}


def template() -> str:
    head = ("You are the support agent of {{ company }}, talking to {{ user }} in {{ language }}.\n"
            "{% include \"bench-safety\" %}{% include \"bench-tone\" %}"
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
                await store.load("bench-safety", "Never share a customer's card number.\n", kind="text", force=True)
                await store.load("bench-tone", "Tone: {{ language }} and calm.\n", kind="text", force=True)
                await store.load(NAME, template(), kind="text", force=True)
            finally:
                await store.aclose()

        asyncio.run(seed())
        with PromptClient(server.url, announce=False) as client:
            parts = {NAME: template(), "bench-safety": "Never share a customer's card number.\n",
                     "bench-tone": "Tone: {{ language }} and calm.\n"}
            expected = Renderer(parts.get).render(NAME, VARIABLES).text
            deadline = time.monotonic() + 10
            while client.read(NAME).source != "memory":
                if time.monotonic() > deadline:
                    raise RuntimeError("the client never served from memory")
                time.sleep(0.005)
            assert client.render(NAME, VARIABLES) == expected
            cached = _best_us(lambda: client.render(NAME, VARIABLES), 2_000)
            for part in parts:
                client.get_active(part)
            each = _best_us(lambda: Renderer(client.get_active).render(NAME, VARIABLES), 100)
    finally:
        server.cleanup()
    what = "render a 10 KB template, 5 variables, 2 includes"
    return [
        (what, "PromptClient.render (text and parsed template from memory)", f"{cached:,.1f} us"),
        (what, "a fresh renderer on every call (parse and compile each part)", f"{each:,.1f} us"),
        (what, "ratio", f"{each / cached:,.1f}x faster"),
    ]


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
