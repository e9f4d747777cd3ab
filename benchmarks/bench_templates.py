"""Templates: render from the client's cache vs compiling each time, and a fragment change's staleness.

Side by side on a private server, in one run:

1. A 10 KB prompt with 5 variables (one in a conditional, one a loop) and 2 includes,
   read through ``PromptClient.render`` (every part from memory, each compiled once per
   text) and, side by side, a fresh renderer on every call (every part parsed and
   compiled each time), as a client without a compiled-template cache would.
2. Staleness of a dependent render after a fragment change, across processes: 4 agent
   processes each render a different prompt that includes the same fragment
   (``{% include "bench-frag" %}``) in a loop, and read a plain prompt with
   ``get_active`` in the same loop. This process writes the fragment (then the plain
   prompt) through ``PromptStore.set_active``, 200 times each; a sample is the time from
   the write's commit returning here to the moment one agent's render (or read) first
   holds the new text (``CLOCK_MONOTONIC`` is shared by processes, as in
   ``bench_agents``); p50 / p99 over every (write, agent) pair. The target: a dependent
   render's p99 <= 5 ms. The fragment holds a variable, so the first render after a
   change also parses and compiles the new fragment, as a real change costs; that cost
   alone (one process, no server: the first render after a change vs the next) is shown
   beside it, since every agent pays it at the same moment.

Run alone: ``python benchmarks/bench_templates.py`` (or via ``benchmarks/run.py``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_any
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench_agents import p99, prompt  # noqa: E402
from bench_labels import _store_do  # noqa: E402
from tests.support.servers import TestServer  # noqa: E402

from dynamic_prompt.core.templates import Renderer  # noqa: E402
from dynamic_prompt.live.client import PromptClient  # noqa: E402
from dynamic_prompt.store import PromptStore  # noqa: E402

NAME = "tpl"
VARIABLES: dict[str, Any] = {"user": "Ada", "company": "Northwind", "tier": "gold", "tools": ["search", "refund"],
                             "language": "English"}

FRAGMENT = "bench-frag"
"""The fragment every dependent includes (the staleness benchmark writes it)."""
PLAIN = "bench-plain"
"""A plain prompt (no template syntax) the same agents read with ``get_active``, for comparison."""
AGENTS = 4
WRITES = 200
"""Writes of the fragment, and as many of the plain prompt: AGENTS samples each."""
PAUSE = 200e-6
"""What an agent sleeps between loop turns (it waits on its LLM between renders). Long enough
that 4 agents leave the cores of a small machine to their feed threads and the server, short
enough that sampling adds at most ~0.3 ms, the same to both rows."""
SEEN_WITHIN = 2.0
"""Seconds a write may take to reach every agent before it counts as not seen."""
MARK = "Safety rules, revision "
"""Where a render says which fragment text it holds (the tag runs to the next ``:``)."""


def template() -> str:
    head = ("You are the support agent of {{ company }}, talking to {{ user }} in {{ language }}.\n"
            "{% include \"bench-safety\" %}{% include \"bench-tone\" %}"
            "{% if tier == 'gold' %}This customer has priority support.\n{% endif %}"
            "Tools:\n{% for tool in tools %}- {{ tool }}\n{% endfor %}\n")
    body = "Background line for the benchmark prompt, kept as plain text.\n"
    return head + body * ((10_000 - len(head)) // len(body))


def fragment(tag: str) -> str:
    """The fragment's text for write ``tag``; a template itself (it reads ``user``)."""
    return f"{MARK}{tag}: never share {{{{ user }}}}'s card number, nor read it back.\n"


def dependent(i: int) -> str:
    """Agent ``i``'s prompt (about 2 KB): variables, a loop, and the fragment in its middle."""
    head = (f"You are support agent {i} of {{{{ company }}}}, talking to {{{{ user }}}} in {{{{ language }}}}.\n"
            f"{{% include \"{FRAGMENT}\" %}}"
            "Tools:\n{% for tool in tools %}- {{ tool }}\n{% endfor %}\n")
    body = "Background line for the benchmark prompt, kept as plain text.\n"
    return head + body * ((2_000 - len(head)) // len(body))


def plain_text(tag: str) -> str:
    """The plain prompt for write ``tag``: as long as a dependent, its first line the tag."""
    return prompt(tag)[:2_000]


def _tag(text: str) -> str:
    """Which fragment write a render holds ("" if none)."""
    at = text.find(MARK)
    if at < 0:
        return ""
    start = at + len(MARK)
    return text[start:text.find(":", start)]


def _best_us(call: Any, n: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter_ns() - start) / n / 1000)
    return best


def bench_render(url: str) -> list[tuple[str, str, str]]:
    async def seed(store: PromptStore) -> None:
        await store.load("bench-safety", "Never share a customer's card number.\n", kind="text", force=True)
        await store.load("bench-tone", "Tone: {{ language }} and calm.\n", kind="text", force=True)
        await store.load(NAME, template(), kind="text", force=True)

    asyncio.run(_store_do(url, seed))
    with PromptClient(url, announce=False) as client:
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
    what = "render a 10 KB template, 5 variables, 2 includes"
    return [
        (what, "PromptClient.render (text and parsed template from memory)", f"{cached:,.1f} us"),
        (what, "a fresh renderer on every call (parse and compile each part)", f"{each:,.1f} us"),
        (what, "ratio", f"{each / cached:,.1f}x faster"),
    ]


# -- staleness of a dependent render across processes -----------------------------------


def _agent(url: str, i: int, conn: Connection) -> None:  # pragma: no cover - runs in a child
    """In another process: render dependent ``i`` and read the plain prompt in a loop, until told to stop.

    Sends ``("render", tag, ns)`` when a render first holds another fragment text and
    ``("get_active", tag, ns)`` when the plain prompt's first line changes; ``("ready", ...)``
    once every part is served from memory, ``("error", message, 0)`` if a render fails.
    """
    name = f"bench-dep-{i}"
    with PromptClient(url, announce=False) as client:
        try:
            last_render = _tag(client.render(name, VARIABLES))
            last_plain = (client.get_active(PLAIN) or "").partition("\n")[0]
            deadline = time.monotonic() + 15
            while any(client.read(n).source != "memory" for n in (name, FRAGMENT, PLAIN)):
                if time.monotonic() > deadline:
                    raise RuntimeError("the agent never served from memory (feed not live?)")
                time.sleep(0.005)
            conn.send(("ready", client.feed_mode, 0))
            while not conn.poll():
                tag = _tag(client.render(name, VARIABLES))
                if tag != last_render:
                    conn.send(("render", tag, time.monotonic_ns()))
                    last_render = tag
                text = client.get_active(PLAIN) or ""
                seen = time.monotonic_ns()
                tag = text.partition("\n")[0]
                if tag != last_plain:
                    conn.send(("get_active", tag, seen))
                    last_plain = tag
                time.sleep(PAUSE)
        except Exception as exc:  # noqa: BLE001 - said to the writer, which fails the benchmark with it
            conn.send(("error", f"agent {i}: {type(exc).__name__}: {exc}", 0))


def _await_all(pipes: Sequence[Connection], kind: str, tag: str, acked: int) -> list[float]:
    """Milliseconds from ``acked`` until each agent's ``kind`` read held ``tag``, for those that did
    within SEEN_WITHIN; an agent's report of an earlier write (one seen late) is skipped."""
    pending = set(range(len(pipes)))
    lags: list[float] = []
    deadline = time.monotonic() + SEEN_WITHIN
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for conn in wait_any([pipes[i] for i in pending], left):
            assert isinstance(conn, Connection)
            i = pipes.index(conn)
            what, seen_tag, seen = conn.recv()
            if what == "error":
                raise RuntimeError(seen_tag)
            if what == kind and seen_tag == tag:
                lags.append(max(0, int(seen) - acked) / 1e6)
                pending.discard(i)
    return lags


def bench_staleness(url: str, agents: int = AGENTS) -> list[tuple[str, str, str]]:
    """The staleness rows with ``agents`` agent processes (each renders its own dependent)."""

    async def seed(store: PromptStore) -> None:
        await store.load(FRAGMENT, fragment("start"), kind="text", force=True)
        await store.load(PLAIN, plain_text("start"), kind="text", force=True)
        for i in range(agents):
            await store.load(f"bench-dep-{i}", dependent(i), kind="text", force=True)

    asyncio.run(_store_do(url, seed))
    ctx = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    procs: list[Any] = []
    lags: dict[str, list[float]] = {"render": [], "get_active": []}
    writes = {"render": 0, "get_active": 0}
    try:
        for i in range(agents):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_agent, args=(url, i, theirs), daemon=True)
            proc.start()
            pipes.append(ours)
            procs.append(proc)
        modes = set()
        for conn in pipes:
            if not conn.poll(60):
                raise RuntimeError("an agent process did not start")
            what, mode, _ = conn.recv()
            if what != "ready":
                raise RuntimeError(f"an agent process did not start: {mode}")
            modes.add(str(mode))

        async def rounds(store: PromptStore) -> None:
            for n in range(WRITES):
                # The fragment, then the plain prompt: both through the same write path, each
                # waited for in every agent before the next, so the two rows share conditions.
                for kind, name, text in (("render", FRAGMENT, fragment(f"w{n}")),
                                         ("get_active", PLAIN, plain_text(f"w{n}"))):
                    await store.set_active(name, text, expected_version=None)
                    acked = time.monotonic_ns()
                    writes[kind] += 1
                    lags[kind] += await asyncio.to_thread(_await_all, pipes, kind, f"w{n}", acked)
                    await asyncio.sleep(0.002)  # writes a few ms apart, as people and tools make them

        asyncio.run(_store_do(url, rounds))
    finally:
        for conn in pipes:
            try:
                conn.send("stop")
            except OSError:
                pass  # that agent is gone already
        for proc in procs:
            proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
    render, plain = sorted(lags["render"]), sorted(lags["get_active"])
    missed = {kind: writes[kind] * agents - len(found) for kind, found in lags.items()}
    what = (f"staleness: fragment write -> {agents} agent process{'es' if agents != 1 else ''} ({', '.join(sorted(modes))})"
            f", target p99 <= 5 ms")

    def figure(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} ms / {p99(values):.2f} ms" if values else "no samples"

    rows = [
        (what, f"render of a 2 KB template including it, p50 / p99 of {len(render)}", figure(render)),
        (what, f"plain 2 KB prompt, get_active, same agents, p50 / p99 of {len(plain)}", figure(plain)),
    ]
    if render and plain:
        rows.append((what, "ratio (render / get_active), p50 / p99",
                     f"{statistics.median(render) / statistics.median(plain):.1f}x / "
                     f"{p99(render) / p99(plain):.1f}x"))
    rows.append((what, f"(write, agent) pairs not seen within {SEEN_WITHIN:.0f} s (render / get_active)",
                 f"{missed['render']} / {missed['get_active']}"))
    return rows


def bench_recompile() -> list[tuple[str, str, str]]:
    """The CPU a fragment change costs each agent's next render (parts from a dict, no server)."""
    parts = {"bench-dep-0": dependent(0), FRAGMENT: fragment("start")}
    renderer = Renderer(parts.get)
    renderer.render("bench-dep-0", VARIABLES)
    changed: list[float] = []
    steady: list[float] = []
    for n in range(50):
        parts[FRAGMENT] = fragment(f"c{n}")
        for into in (changed, steady):  # the render that meets the new text, then the next one
            start = time.perf_counter_ns()
            renderer.render("bench-dep-0", VARIABLES)
            into.append((time.perf_counter_ns() - start) / 1e6)
    return [("render after a fragment change (one process, no server)",
             "first render after the change (parses and compiles the new fragment) / the next, median",
             f"{statistics.median(changed):.2f} ms / {statistics.median(steady):.3f} ms")]


def run() -> list[tuple[str, str, str]]:
    server = TestServer().start()
    try:
        # One agent, then four on the same machine: on a small machine the four (with the
        # writer and the server) share its cores, and the plain read beside them shows that cost.
        return (bench_render(server.url) + bench_staleness(server.url, 1) + bench_staleness(server.url, AGENTS)
                + bench_recompile())
    finally:
        server.cleanup()


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
