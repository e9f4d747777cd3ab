"""Prompt templates: variables, conditionals and loops in jinja2's sandbox (pure: no Redis here).

A prompt is a template only when it holds template syntax (``{{``, ``{%`` or ``{#``);
every other prompt renders as itself, byte for byte, so the prompts people wrote
before templates existed (and the seed's ``▛///▞`` style) are untouched.

Why jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment`: it is the well-kept engine
with conditionals, loops and filters that prompt authors already know (Langfuse,
PromptLayer and LangChain speak it or mustache), and its sandbox refuses the attribute
walks (``''.__class__.__mro__``) that turn a template into code execution. Rendering is
strict by default (:class:`~jinja2.StrictUndefined`: a missing variable is an error
that names it); lenient mode renders a missing variable as empty. The output is
bounded while it is produced, so a loop cannot build gigabytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from dynamic_prompt.core.includes import TemplateError, cycle_message, find_cycle, parse_ref

_SYNTAX = re.compile(r"\{[{%#]")
_UNDEFINED = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)' is undefined")
WARM_MAX_CHARS = 256 * 1024
"""The largest part compiled ahead of its render (a bigger one compiles when a render meets it)."""

MAX_RENDER_BYTES = 4 * 1024 * 1024
"""The most a render may produce (a template's loops cannot build more)."""


def is_template(text: str) -> bool:
    """Whether ``text`` holds template syntax (else it renders as itself)."""
    return _SYNTAX.search(text) is not None


def _environment(strict: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        autoescape=False,  # prompts are text, not HTML
        keep_trailing_newline=True,  # a prompt's last newline is part of it
    )


_STRICT = _environment(True)
_LENIENT = _environment(False)


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


@dataclass(frozen=True)
class Template:
    """A prompt's text, parsed once (render it many times).

    Attributes:
        source: the text as stored.
        variables: the names the template reads that it does not set itself (sorted).
        templated: whether it holds template syntax at all (else it renders as ``source``).
    """

    source: str
    variables: tuple[str, ...]
    templated: bool
    _tree: Any = None
    includes: tuple[str, ...] = ()
    """The parts it includes, as written (``safety``, ``safety@staging``, ``safety@v3``)."""
    _compiled: dict[bool, Any] = field(default_factory=dict, compare=False, repr=False)
    """Compiled per mode on first use (most callers render one way only)."""

    @classmethod
    def parse(cls, source: str, *, compile: bool = True) -> Template:
        """Parse ``source``; :class:`TemplateError` (with the line) if it does not parse.

        ``compile=False`` leaves compiling to the first render (a :class:`Renderer` compiles
        each part itself, once): the few errors only compiling finds then come from there.
        """
        if not is_template(source):
            return cls(source, (), False)
        try:
            tree = _STRICT.parse(source)
            strict = _STRICT.from_string(tree) if compile else None
            # Finding the variables runs jinja's code generator, which is where an unknown
            # filter or test is found (TemplateAssertionError, a TemplateSyntaxError).
            names = sorted(meta.find_undeclared_variables(tree) - _builtins(tree))
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_error(exc) from None
        refs = list(meta.find_referenced_templates(tree))
        if any(ref is None for ref in refs):
            raise TemplateError("An include must name its prompt literally ({% include \"safety\" %}), "
                                "not through a variable: which prompts a template uses must be known.")
        for ref in refs:
            parse_ref(str(ref))
        return cls(source, tuple(names), True, tree, tuple(dict.fromkeys(str(r) for r in refs)),
                   {True: strict} if strict is not None else {})

    def render(self, variables: Mapping[str, Any] | None = None, *, strict: bool = True,
               max_bytes: int = MAX_RENDER_BYTES) -> Rendered:
        """The text with ``variables`` filled in.

        Strict (the default): a variable the template uses and ``variables`` lacks is a
        :class:`TemplateError` naming it (one read only behind ``{% if x is defined %}`` is
        optional). Lenient: it renders as empty. Either way the names given that the
        template never reads come back in :attr:`Rendered.unused`.
        """
        given = dict(variables or {})
        unused = tuple(sorted(set(given) - set(self.variables)))
        if not self.templated:
            return Rendered(self.source, unused, ())
        # Not checked up front: a variable read only behind `{% if x is defined %}` is optional,
        # and StrictUndefined refuses only a use that needs the value.
        missing = tuple(name for name in self.variables if name not in given)
        template = self._compiled.get(strict)
        if template is None:
            template = self._compiled[strict] = _compiled(_STRICT if strict else _LENIENT, self._tree)
        text = _fill(template, given, max_bytes, self.variables, "the template reads")
        return Rendered(text, unused, missing)


def _syntax_error(exc: jinja2.TemplateSyntaxError) -> TemplateError:
    return TemplateError(f"The template does not parse, line {exc.lineno}: {_one_line(exc.message or exc)}.")


def _compiled(environment: jinja2.Environment, tree: Any) -> Any:
    """``tree`` compiled in ``environment``; what only compiling finds is a :class:`TemplateError`."""
    try:
        return environment.from_string(tree)
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(exc) from None


def _fill(template: Any, given: Mapping[str, Any], max_bytes: int, reads: Sequence[str], subject: str) -> str:
    """Run a compiled template with ``given``, bounded to ``max_bytes``; every failure one line.

    ``reads`` are the variables the template (with its includes) reads; a missing one is
    named with ``subject`` ("the template reads") before them.
    """
    out: list[str] = []
    size = 0
    try:
        for piece in template.generate(**given):
            size += len(piece)
            if size > max_bytes:
                raise TemplateError(f"The rendered prompt would be over {max_bytes:,} characters; "
                                    "a loop in the template runs too long.")
            out.append(piece)
    except TemplateError:
        raise
    except jinja2.UndefinedError as exc:
        named = _UNDEFINED.match(str(exc))
        if named and named.group(1) in reads:
            raise TemplateError(f"Missing variable {named.group(1)!r}: {subject} {', '.join(reads)}.") from None
        raise TemplateError(f"The template reads something it was not given: {_one_line(exc)}.") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"The template tried something the sandbox forbids: {_one_line(exc)}.") from None
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
        raise TemplateError(f"The template could not be rendered: {type(exc).__name__}: {_one_line(exc)}.") \
            from None
    return "".join(out)


def _builtins(tree: nodes.Template) -> set[str]:
    """Names jinja provides itself (``range``, ``loop``, ...): not variables a caller must give."""
    return set(_STRICT.globals) | {"loop", "self", "varargs", "kwargs"}


@dataclass(frozen=True)
class Rendered:
    """A render's text, the variables given that the template never reads, and (lenient) those it lacked."""

    text: str
    unused: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


def parse_assignments(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["name=Ada", "tier=gold"]`` as a dict; :class:`TemplateError` for one without ``=``."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise TemplateError(f"Bad variable {item!r}: write NAME=VALUE, NAME a plain identifier.")
        out[name] = value
    return out


# -- rendering with includes -------------------------------------------------------------

class _PartLoader(jinja2.BaseLoader):
    """Hands jinja the parts a :class:`Renderer` fetches, compiled from its parsed trees."""

    def __init__(self, renderer: Renderer) -> None:
        self._renderer = renderer

    def load(self, environment: jinja2.Environment, name: str,
             globals: MutableMapping[str, Any] | None = None) -> jinja2.Template:
        return self._renderer.load_part(environment, name, environment.make_globals(globals))


class Renderer:
    """Renders prompts whose includes are read through ``fetch`` (a part's text, or ``None``).

    Each part is parsed and compiled once per text: jinja's own template cache holds it,
    and asks ``fetch`` on every render whether the text is still the same object. An agent's
    ``fetch`` reads from its push-invalidated memory, so a change to any part, made by
    anyone, reaches every render that uses it, with no polling.
    """

    def __init__(self, fetch: Callable[[str], str | None], *, max_bytes: int = MAX_RENDER_BYTES) -> None:
        self._fetch = fetch
        self._max_bytes = max_bytes
        self._parsed: dict[str, Template] = {}
        self._tops: dict[tuple[str, bool], Any] = {}
        self._envs = {strict: self._environment(strict) for strict in (True, False)}
        self._as_part: set[str] = set()
        self._as_top: set[str] = set()
        """The parts this renderer has included, and those it has rendered (what :meth:`warm` prepares)."""
        self._code: dict[tuple[str, bool], Any] = {}
        """Parts compiled ahead by :meth:`warm`, by text and mode, until an include loads them."""

    def _environment(self, strict: bool) -> SandboxedEnvironment:
        env = _environment(strict)
        env.loader = _PartLoader(self)
        env.auto_reload = True
        return env

    def load_part(self, environment: jinja2.Environment, ref: str, globals: Any) -> jinja2.Template:
        """An included part compiled from the tree :meth:`parsed` already holds (never parsed twice)."""
        text = self._fetch(ref)
        if text is None:
            raise TemplateError(f"The included prompt {ref!r} has no text (or no such label).")
        self._as_part.add(ref)
        strict = environment is self._envs[True]
        code = self._code.pop((text, strict), None)
        if code is None:
            tree = self.parsed(text)._tree
            try:
                code = environment.compile(tree if tree is not None else text, ref, ref)
            except jinja2.TemplateSyntaxError as exc:
                raise _syntax_error(exc) from None
        # jinja keeps the compiled part and asks this before each use: still the same text
        # object in the agent's push-invalidated memory?
        return environment.template_class.from_code(environment, code, globals, lambda: self._fetch(ref) is text)

    def warm(self, ref: str, text: str) -> None:
        """Parse and compile part ``ref``'s new ``text`` now, so the next render that meets it is quick.

        An agent's client calls this when a changed part arrives by push (on its own thread,
        between the agent's calls), for parts this renderer has used before. Never fetches;
        a text that does not compile is left for the render to report.
        """
        top, part = ref in self._as_top, ref in self._as_part
        if not (top or part) or len(text) > WARM_MAX_CHARS or not is_template(text):
            return
        try:
            template = self.parsed(text)
            if top and not template.includes and True not in template._compiled:
                template._compiled[True] = _compiled(_STRICT, template._tree)  # a top renders on its own
            if part or (top and template.includes):
                if len(self._code) >= 512:
                    self._code.clear()
                self._code[(text, True)] = self._envs[True].compile(template._tree, ref, ref)
        except (TemplateError, jinja2.TemplateError):
            return

    def parsed(self, text: str) -> Template:
        """``Template.parse(text)`` without compiling, kept per text (the same text object is parsed once)."""
        template = self._parsed.get(text)
        if template is None:
            if len(self._parsed) >= 512:
                self._parsed.clear()
            template = self._parsed[text] = Template.parse(text, compile=False)
        return template

    def _includes_of(self, ref: str) -> Sequence[str]:
        text = self._fetch(ref)
        return self.parsed(text).includes if text is not None else ()

    def render(self, ref: str, variables: Mapping[str, Any] | None = None, *, strict: bool = True,
               text: str | None = None) -> Rendered:
        """Part ``ref`` (``support``, ``support@staging``) rendered with ``variables``, includes and all.

        ``text``: the part's text when the caller has it (an experiment's variant), else fetched.
        """
        text = self._fetch(ref) if text is None else text
        if text is None:
            raise TemplateError(f"There is no prompt {ref!r} to render.")
        self._as_top.add(ref)
        top = self.parsed(text)
        if not top.includes:
            return top.render(variables, strict=strict, max_bytes=self._max_bytes)
        chain = find_cycle(ref, self._includes_of)
        if chain is not None:
            raise TemplateError(cycle_message(chain) + " Nothing was rendered.")
        reads: set[str] = set()

        def collect(part: str) -> None:
            body = self._fetch(part)
            if body is None:
                return
            parsed = self.parsed(body)
            reads.update(parsed.variables)
            for child in parsed.includes:
                collect(str(parse_ref(child)))

        collect(ref)
        given = dict(variables or {})
        unused = tuple(sorted(set(given) - reads))
        missing = tuple(sorted(reads - set(given)))
        compiled = self._tops.get((text, strict))
        if compiled is None:
            if len(self._tops) >= 512:
                self._tops.clear()
            code = self._code.pop((text, strict), None)
            env = self._envs[strict]
            compiled = self._tops[(text, strict)] = (
                _compiled(env, top._tree) if code is None else env.template_class.from_code(env, code, env.make_globals(None)))
        text = _fill(compiled, given, self._max_bytes, sorted(reads), f"{ref!r} and its includes read")
        return Rendered(text, unused, missing)
