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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from dynamic_prompt.core.errors import DynamicPromptError

_SYNTAX = re.compile(r"\{[{%#]")
_UNDEFINED = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)' is undefined")
MAX_RENDER_BYTES = 4 * 1024 * 1024
"""The most a render may produce (a template's loops cannot build more)."""


class TemplateError(DynamicPromptError):
    """A template that does not parse, or a render that cannot complete: one line, nothing written."""


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
    _compiled: dict[bool, Any] = field(default_factory=dict, compare=False, repr=False)
    """Compiled per mode on first use (most callers render one way only)."""

    @classmethod
    def parse(cls, source: str) -> Template:
        """Parse ``source``; :class:`TemplateError` (with the line) if it does not parse."""
        if not is_template(source):
            return cls(source, (), False)
        try:
            tree = _STRICT.parse(source)
            strict = _STRICT.from_string(tree)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"The template does not parse, line {exc.lineno}: {_one_line(exc.message or exc)}.") \
                from None
        names = sorted(meta.find_undeclared_variables(tree) - _builtins(tree))
        return cls(source, tuple(names), True, tree, {True: strict})

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
            template = self._compiled[strict] = (_STRICT if strict else _LENIENT).from_string(self._tree)
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
            if named and named.group(1) in self.variables:
                raise TemplateError(f"Missing variable {named.group(1)!r}: the template reads "
                                    f"{', '.join(self.variables)}.") from None
            raise TemplateError(f"The template reads something it was not given: {_one_line(exc)}.") from None
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateError(f"The template tried something the sandbox forbids: {_one_line(exc)}.") from None
        except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
            raise TemplateError(f"The template could not be rendered: {type(exc).__name__}: {_one_line(exc)}.") \
                from None
        return Rendered("".join(out), unused, missing)


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
