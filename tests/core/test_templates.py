"""Templates: strict variables, the sandbox, bounded output, and every plain prompt unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynamic_prompt.core.templates import Template, TemplateError, is_template, parse_assignments
from tests.tui.helpers import SAMPLE

ROOT = Path(__file__).resolve().parents[2]
SEED_STYLE = "▛///▞ PROMPT :: X\n//▞▞ ⟦⎊⟧ :: Careful ▞▞\n▛///▞ CORE RULES\n1. Be kind.\n:: ∎\n"


@pytest.mark.parametrize("path", sorted((ROOT / "prompts").glob("*.md")), ids=lambda p: p.name)
def test_every_sample_prompt_renders_as_itself_byte_for_byte(path: Path) -> None:
    text = path.read_text("utf-8")
    assert not is_template(text)
    done = Template.parse(text).render({"unused": "x"})
    assert done.text.encode("utf-8") == path.read_bytes()
    assert done.unused == ("unused",)


@pytest.mark.parametrize("text", [SAMPLE, SEED_STYLE, "", "no newline at the end", "a { b } c }}", "\r\n\t x \n\n"])
def test_plain_texts_render_as_themselves(text: str) -> None:
    assert Template.parse(text).render().text == text


def test_variables_conditionals_and_loops() -> None:
    template = Template.parse(
        "Hello {{ user }}.\n{% if tier == 'gold' %}Priority support.\n{% endif %}"
        "{% for tool in tools %}- {{ tool }}\n{% endfor %}")
    assert template.variables == ("tier", "tools", "user")
    done = template.render({"user": "Ada", "tier": "gold", "tools": ["search", "refund"]})
    assert done.text == "Hello Ada.\nPriority support.\n- search\n- refund\n"
    assert template.render({"user": "Bo", "tier": "free", "tools": []}).text == "Hello Bo.\n"


def test_a_variable_behind_is_defined_is_optional() -> None:
    template = Template.parse("Hi {{ user }}{% if vip is defined %}, welcome back{% endif %}.\n")
    assert template.variables == ("user", "vip")
    assert template.render({"user": "Ada"}).text == "Hi Ada.\n"
    assert template.render({"user": "Ada", "vip": True}).text == "Hi Ada, welcome back.\n"


def test_a_missing_variable_names_itself_in_one_line_and_lenient_renders_it_empty() -> None:
    template = Template.parse("Hi {{ user }}, your plan is {{ plan }}.\n")
    with pytest.raises(TemplateError) as info:
        template.render({"user": "Ada"})
    message = str(info.value)
    assert "'plan'" in message and "\n" not in message
    done = template.render({"user": "Ada", "extra": 1}, strict=False)
    assert done.text == "Hi Ada, your plan is .\n"
    assert done.missing == ("plan",) and done.unused == ("extra",)


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ range.__self__ }}",
])
def test_the_sandbox_refuses_walks_to_code(source: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template.parse(source).render()
    assert "\n" not in str(info.value)


def test_output_is_bounded_while_it_is_produced() -> None:
    template = Template.parse("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}")
    with pytest.raises(TemplateError) as info:
        template.render(max_bytes=1_000_000)
    assert "over 1,000,000 characters" in str(info.value)


@pytest.mark.parametrize("source", ["{{ user", "{% if x %}never closed", "{% for %}{% endfor %}", "{{ 1 + }}"])
def test_a_template_that_does_not_parse_is_one_line_with_its_line(source: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template.parse("first line\n" + source)
    assert "line 2" in str(info.value) and "\n" not in str(info.value)


def test_errors_inside_a_render_are_one_line() -> None:
    for source, variables in (("{{ 1 / x }}", {"x": 0}), ("{{ x.y.z }}", {"x": {}}), ("{{ x | int + 'a' }}", {"x": "1"})):
        with pytest.raises(TemplateError) as info:
            Template.parse(source).render(variables)
        assert "\n" not in str(info.value)


def test_assignments_from_the_command_line() -> None:
    assert parse_assignments(["user=Ada", "note=a=b", "empty="]) == {"user": "Ada", "note": "a=b", "empty": ""}
    for bad in ("noequals", "=x", "a b=c", "1x=2"):
        with pytest.raises(TemplateError):
            parse_assignments([bad])


async def test_the_client_renders_from_memory_and_follows_a_change(store, server_url: str) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from dynamic_prompt.live.client import PromptClient

    await store.clear("tpl")
    await store.load("tpl", "Hello {{ user }}.\nTone: Calm\n", kind="text")
    with PromptClient(server_url, announce=False) as client:
        assert client.render("tpl", user="Ada") == "Hello Ada.\nTone: Calm\n"
        assert client.render("tpl", {"user": "Bo"}) == "Hello Bo.\nTone: Calm\n"
        with pytest.raises(TemplateError) as info:
            client.render("tpl")
        assert "'user'" in str(info.value)
        assert client.render("tpl", lenient=True) == "Hello .\nTone: Calm\n"
        await store.modify("tpl", "change tone to sarcastic")  # the instruction edits the source
        for _ in range(500):
            if "Sarcastic" in client.render("tpl", user="Ada"):
                break
            await asyncio.sleep(0.01)
        assert client.render("tpl", user="Ada") == "Hello Ada.\nTone: Sarcastic\n"
        with pytest.raises(Exception) as missing:
            client.render("no-such-prompt")
        assert "no prompt named" in str(missing.value)


def test_an_unknown_filter_is_a_template_error_alone_and_through_an_include() -> None:
    from dynamic_prompt.core.templates import Renderer

    parts = {"frag": "Never share {{ user|nosuchfilter }}.", "dep": 'Hi {{ user }}.\n{% include "frag" %}'}
    for ref in ("frag", "dep"):
        with pytest.raises(TemplateError, match="does not parse, line 1: No filter named 'nosuchfilter'"):
            Renderer(parts.get).render(ref, {"user": "Ada"})
    with pytest.raises(TemplateError, match="No filter named"):
        Template.parse(parts["frag"], compile=False)
    with pytest.raises(TemplateError, match="No test named"):
        Template.parse("{{ x is nosuchtest }}")


def test_a_warmed_part_renders_without_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    import jinja2

    from dynamic_prompt.core.templates import Renderer

    parts = {"dep": 'Hi {{ user }}.\n{% include "frag" %}', "frag": "v1 for {{ user }}."}
    renderer = Renderer(parts.get)
    assert renderer.render("dep", {"user": "Ada"}).text == "Hi Ada.\nv1 for Ada."
    compiles: list[object] = []
    real = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile", lambda self, *a, **k: compiles.append(a) or real(self, *a, **k))
    parts["frag"] = new = "v2 for {{ user }}."
    renderer.warm("frag", new)          # what the client's feed thread does when the change arrives
    assert len(compiles) == 1
    assert renderer.render("dep", {"user": "Ada"}).text == "Hi Ada.\nv2 for Ada."
    assert len(compiles) == 1           # the render met the part compiled ahead
    renderer.warm("never-used", "x {{ y }}")  # not a part it uses: nothing to do
    parts["frag"] = broken = "{% if %}"
    renderer.warm("frag", broken)             # does not parse: left for the render to say
    assert len(compiles) == 1
    with pytest.raises(TemplateError, match="does not parse"):
        renderer.render("dep", {"user": "Ada"})
