"""Includes: a fragment in many prompts, pinned to a label or a version, cycles refused."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
import redis

from dynamic_prompt.core.includes import MAX_INCLUDE_DEPTH, TemplateError, find_cycle, parse_ref
from dynamic_prompt.core.keys import keys_for
from dynamic_prompt.live.client import PromptClient
from dynamic_prompt.store import PromptStore

SAFETY = "Never share a customer's card number.\n"


async def _fresh(store: PromptStore, *names: str) -> None:
    for name in names:
        await store.clear(name)


def test_refs_and_cycles_as_data() -> None:
    assert str(parse_ref("safety")) == "safety" and parse_ref("safety@staging").label == "staging"
    assert parse_ref("safety@v3").version == 3
    for bad in ("", "sa fety", "x@Bad", "{x}", "x@"):
        with pytest.raises(TemplateError):
            parse_ref(bad)
    graph = {"a": ("b",), "b": ("c",), "c": ("a",)}
    assert find_cycle("a", lambda r: graph.get(r, ())) == ["a", "b", "c", "a"]
    chain = {f"p{i}": (f"p{i + 1}",) for i in range(20)}
    found = find_cycle("p0", lambda r: chain.get(r, ()))
    assert found is not None and len(found) == MAX_INCLUDE_DEPTH + 2


async def test_a_cycle_is_refused_at_write_time_naming_it(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _fresh(store, "inc-a", "inc-b")
    await store.load("inc-a", "A {% include \"inc-b\" %}\n", kind="text")
    await store.load("inc-b", "B plain\n", kind="text")
    await store.set_label("inc-b", "staging", "production")
    before = {key: redis_sync.dump(key) for key in redis_sync.keys("prompt:{inc-*")}
    with pytest.raises(TemplateError) as info:
        await store.set_active("inc-b", "B {% include \"inc-a\" %}\n", expected_version=None)
    assert str(info.value) == "Include cycle: inc-b -> inc-a -> inc-b. Nothing was written."
    with pytest.raises(TemplateError):
        await store.load("inc-b", "B {% include 'inc-b' %}\n", kind="text", force=True)  # itself
    await store.set_label("inc-b", "staging", "production")
    with pytest.raises(TemplateError) as on_label:
        instruction = 'replace "plain" with "' + "{% include 'inc-b@staging' %}" + '"'
        await store.modify("inc-b", instruction, label="staging")
    assert "inc-b@staging -> inc-b@staging" in str(on_label.value)
    assert {key: redis_sync.dump(key) for key in redis_sync.keys("prompt:{inc-*")} == before
    assert await store.get_active("inc-b") == "B plain\n"


async def test_renders_resolve_includes_by_label_and_version_and_follow_a_fragment_by_push(
        store: PromptStore, server_url: str) -> None:
    await _fresh(store, "safety", "support", "billing")
    await store.load("safety", SAFETY, kind="text")
    await store.set_label("safety", "staging", "production")
    await store.modify("safety", 'replace "card number" with "password"', label="staging")
    await store.load("support", "Hi {{ user }}.\n{% include \"safety\" %}", kind="text")
    await store.load("billing", "Billing.\n{% include \"safety@staging\" %}{% include \"safety@v1\" %}", kind="text")
    with PromptClient(server_url, announce=False) as client:
        assert client.render("support", user="Ada") == "Hi Ada.\n" + SAFETY
        assert client.render("billing") == "Billing.\nNever share a customer's password.\n" + SAFETY
        with pytest.raises(TemplateError) as info:
            client.render("support")
        assert "'user'" in str(info.value) and "\n" not in str(info.value)
        for _ in range(500):  # the feed is live: from here every change arrives by push
            if client.feed_mode == "notifications":
                break
            await asyncio.sleep(0.01)
        await store.set_active("safety", "Never share anything.\n", expected_version=None)
        for _ in range(500):
            if "anything" in client.render("support", user="Ada"):
                break
            await asyncio.sleep(0.01)
        assert client.render("support", user="Ada") == "Hi Ada.\nNever share anything.\n"
        assert client.render("billing").endswith(SAFETY)  # pinned to v1: unchanged


async def test_an_outside_cycle_or_a_missing_part_is_one_line_at_render(
        store: PromptStore, server_url: str, redis_sync: redis.Redis) -> None:
    await _fresh(store, "loop-a", "loop-b", "lonely")
    await store.load("loop-a", "A {% include \"loop-b\" %}", kind="text")
    await store.load("loop-b", "B\n", kind="text")
    redis_sync.set(keys_for("loop-b").active, "B {% include \"loop-a\" %}")  # redis-cli, past our checks
    await store.load("lonely", "L {% include \"nowhere\" %}", kind="text")
    with PromptClient(server_url, announce=False) as client:
        with pytest.raises(TemplateError) as cycle:
            client.render("loop-a")
        assert "Include cycle: loop-a -> loop-b -> loop-a" in str(cycle.value)
        with pytest.raises(TemplateError) as missing:
            client.render("lonely")
        assert "'nowhere'" in str(missing.value) and "\n" not in str(missing.value)


def test_dprompt_render_resolves_includes(server_url: str, redis_sync: redis.Redis) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", server_url, *args],
                              capture_output=True, text=True, timeout=60)

    assert run("load", "--name", "frag", "--force", "--text", SAFETY).returncode == 0
    assert run("load", "--name", "uses", "--force", "--text", "Hi {{ who }}.\n{% include \"frag\" %}").returncode == 0
    done = run("render", "--name", "uses", "--var", "who=Ada")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hi Ada.\n" + SAFETY
    deps = run("deps", "--name", "frag", "--json")
    assert deps.returncode == 0, deps.stderr
    assert json.loads(deps.stdout) == {"name": "frag", "includes": [], "used_by": ["uses"]}
    assert json.loads(run("deps", "--name", "uses", "--json").stdout)["includes"] == ["frag"]
    cycle = run("load", "--name", "frag", "--force", "--text", "{% include \"uses\" %}")
    assert cycle.returncode == 1 and cycle.stderr.strip() == \
        "error: Include cycle: frag -> uses -> frag. Nothing was written."
    assert redis_sync.get(keys_for("frag").active) == SAFETY


def test_dependents_follow_includes_of_includes_at_any_label_or_version() -> None:
    from dynamic_prompt.core.includes import dependents_of

    graph = {"mid": ["frag@staging"], "top": ["mid"], "pinned": ["frag@v3"], "other": ["tone"],
             "junk": ["not a ref!"], "frag": ["tone"]}
    assert dependents_of("frag", graph) == ["mid", "pinned", "top"]
    assert dependents_of("tone", graph) == ["frag", "mid", "other", "pinned", "top"]
    assert dependents_of("top", graph) == []
    assert dependents_of("a", {"a": ["b"], "b": ["a"]}) == ["b"]  # another program's cycle ends
