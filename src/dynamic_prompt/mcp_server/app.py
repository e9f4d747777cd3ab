"""The MCP server itself: handlers on the SDK's lowlevel ``Server``, and its lifespan.

Why the lowlevel ``Server`` and not ``MCPServer`` (the SDK's decorator API):
our resources and prompts are not a fixed set registered at start-up but
whatever prompts Redis holds right now, and handshake-era subscriptions
(``resources/subscribe``) are only served by the lowlevel API. The tools keep
the decorator API's main benefit anyway: their schemas come from pydantic
models (see :mod:`dynamic_prompt.mcp_server.tools`).

The lifespan owns one :class:`PromptStore` and the change feed; the
feed runs in the lifespan's task group for as long as the client is connected.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from mcp import types
from mcp.server.caching import CacheableMethod, CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.exceptions import MCPError

from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.core.keys import validate_name
from dynamic_prompt.core.models import PromptSummary
from dynamic_prompt.core.version import __version__
from dynamic_prompt.live.cluster_feed import feed_for
from dynamic_prompt.mcp_server.common import URI_SCHEME, ToolContext, iso, prompt_uri
from dynamic_prompt.mcp_server.notify import ChangeNotifier
from dynamic_prompt.mcp_server.policy import describe
from dynamic_prompt.mcp_server.tools import call_tool, list_tools
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.sources import SourcePolicy

log = logging.getLogger(__name__)

MIME_TYPE = "text/markdown"
"""Prompts are written in the sectioned Markdown-ish style the modifier understands."""

INSTRUCTIONS = (
    "System prompts for LLM agents, stored in Redis and tuned live. Read a prompt with get_active_prompt "
    "or the resource prompt://NAME (subscribe to hear about changes by anyone); change it with "
    "modify_prompt (dry_run previews the diff); go back with revert_prompt or restore_version, or take out "
    "one change and keep the later ones with revert_change; every write takes a one-line note (why); "
    "see changes with show_diff and get_history. Every stored prompt is also offered as an MCP prompt."
)


@dataclass
class AppState:
    """The lifespan's state, reachable from every handler as ``ctx.lifespan_context``."""

    tools: ToolContext
    notifier: ChangeNotifier
    http: bool = False
    """Served over HTTP: every request carries a token, and a read token may not write."""

    @property
    def store(self) -> PromptStore:
        """The store every handler reads and writes through."""
        return self.tools.store


Ctx = ServerRequestContext[AppState, Any]


def _not_found(name: str, uri: str) -> MCPError:
    # INVALID_PARAMS with the URI as data: what the SDK's own MCPServer answers for a missing resource.
    return MCPError(types.INVALID_PARAMS, f"There is no prompt named {name!r}; load one first.", {"uri": uri})


def _protocol_error(exc: DynamicPromptError) -> MCPError:
    return MCPError(types.INTERNAL_ERROR, str(exc))


def name_from_uri(uri: str) -> str:
    """The prompt name in ``prompt://NAME``; a protocol error (one sentence) for anything else."""
    if not uri.startswith(URI_SCHEME):
        raise MCPError(
            types.INVALID_PARAMS, f"Unknown resource {uri!r}: prompt resources look like prompt://NAME.", {"uri": uri}
        )
    try:
        return validate_name(uri[len(URI_SCHEME) :])
    except DynamicPromptError as exc:
        raise MCPError(types.INVALID_PARAMS, str(exc), {"uri": uri}) from None


async def _prompt_text(ctx: Ctx, name: str, uri: str) -> tuple[str, int]:
    """The active text and version of ``name``, or a protocol error."""
    try:
        state = await ctx.lifespan_context.store.state(name, with_backup=False)
    except DynamicPromptError as exc:
        raise _protocol_error(exc) from None
    if state.active is None:
        raise _not_found(name, uri)
    return state.active, state.version


async def _summaries(ctx: Ctx) -> list[PromptSummary]:
    try:
        return await ctx.lifespan_context.store.list()
    except DynamicPromptError as exc:
        raise _protocol_error(exc) from None


def _describe(p: PromptSummary) -> str:
    """``version 4, last modify by alice at 2025-01-01T10:00:00Z``."""
    parts = [f"version {p.version}"]
    if p.action or p.updated_by:
        when = f" at {iso(p.updated_at)}" if p.updated_at > 0 else ""
        parts.append(f"last {p.action or 'change'} by {p.updated_by or 'unknown'}{when}")
    return ", ".join(parts)


# -- handlers ---------------------------------------------------------------------------------


def _may_write(ctx: Ctx) -> bool:
    """Over HTTP, whether this request's token may write; on stdio, always (the person's own process)."""
    if not ctx.lifespan_context.http:
        return True
    from dynamic_prompt.mcp_server.http import may_write

    return may_write(ctx.request)


async def _list_tools(ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(tools=list_tools(ctx.lifespan_context.tools.policy, writes=_may_write(ctx)))


async def _call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    return await call_tool(ctx.lifespan_context.tools, params.name, params.arguments, may_write=_may_write(ctx))


async def _list_resources(ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
    resources = [
        types.Resource(
            uri=prompt_uri(p.name),
            name=p.name,
            title=f"System prompt {p.name!r}",
            description=f"The active text of prompt {p.name!r}: {_describe(p)}.",
            mime_type=MIME_TYPE,
            size=p.size,
            annotations=types.Annotations(last_modified=iso(p.updated_at)) if p.updated_at > 0 else None,
        )
        for p in await _summaries(ctx)
    ]
    return types.ListResourcesResult(resources=resources)


async def _list_resource_templates(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListResourceTemplatesResult:
    template = types.ResourceTemplate(
        uri_template=f"{URI_SCHEME}{{name}}",
        name="prompt",
        title="A stored system prompt",
        description="The active text of the prompt called NAME (see list_prompts for the names).",
        mime_type=MIME_TYPE,
    )
    version = types.ResourceTemplate(
        uri_template=f"{URI_SCHEME}{{name}}/v/{{version}}",
        name="prompt-version",
        title="A kept version of a stored prompt",
        description="The text of version VERSION of prompt NAME (see get_history for the numbers); it never changes.",
        mime_type=MIME_TYPE,
    )
    fleet = types.ResourceTemplate(
        uri_template=f"{URI_SCHEME}{{name}}/fleet",
        name="prompt-fleet",
        title="The agents reading a stored prompt",
        description="JSON: each agent reading prompt NAME, the version it serves and why, its read rate.",
        mime_type="application/json",
    )
    return types.ListResourceTemplatesResult(resource_templates=[template, version, fleet])


def _split_uri(uri: str) -> tuple[str, str]:
    """``prompt://NAME`` -> (NAME, ""), ``prompt://NAME/v/N`` -> (NAME, "v/N"), ``prompt://NAME/fleet``."""
    rest = uri[len(URI_SCHEME):] if uri.startswith(URI_SCHEME) else ""
    name, _, tail = rest.partition("/")
    if tail and (tail == "fleet" or (tail.startswith("v/") and tail[2:].isdigit() and len(tail) <= 20)):
        return name_from_uri(URI_SCHEME + name), tail
    return name_from_uri(uri), ""


async def _read_resource(ctx: Ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
    uri = str(params.uri)
    name, tail = _split_uri(uri)
    if tail:
        return await _read_part(ctx, name, tail, uri)
    text, version = await _prompt_text(ctx, name, uri)
    contents = types.TextResourceContents(uri=uri, mime_type=MIME_TYPE, text=text, _meta={"version": version})
    return types.ReadResourceResult(contents=[contents])


async def _read_part(ctx: Ctx, name: str, tail: str, uri: str) -> types.ReadResourceResult:
    """A kept version (``v/N``) or the fleet of agents reading the prompt (``fleet``, JSON)."""
    from dynamic_prompt.core.errors import VersionNotFoundError

    store = ctx.lifespan_context.store
    try:
        if tail == "fleet":
            out = await call_tool(ctx.lifespan_context.tools, "get_fleet", {"name": name})
            data = out.structured_content or {}
            return types.ReadResourceResult(contents=[types.TextResourceContents(
                uri=uri, mime_type="application/json", text=json.dumps(data, indent=1))])
        number = int(tail[2:])
        text = await store.version_text(name, number)
    except VersionNotFoundError as exc:
        raise MCPError(types.INVALID_PARAMS, str(exc), {"uri": uri}) from None
    except DynamicPromptError as exc:
        raise _protocol_error(exc) from None
    contents = types.TextResourceContents(uri=uri, mime_type=MIME_TYPE, text=text, _meta={"version": number})
    # A kept version never changes: a client may keep it as long as it likes.
    return types.ReadResourceResult(contents=[contents], ttl_ms=86_400_000, cache_scope="private")


async def _subscribe(ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
    uri = str(params.uri)
    name_from_uri(uri)  # a prompt that does not exist yet may be subscribed: its creation is an update
    ctx.lifespan_context.notifier.subscribe(ctx.session, uri)
    return types.EmptyResult()


async def _unsubscribe(ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
    ctx.lifespan_context.notifier.unsubscribe(ctx.session, str(params.uri))
    return types.EmptyResult()


ARGUMENTS_FOR = 200
"""Prompts whose template variables list_prompts reads as arguments (each is one read)."""


async def _arguments(ctx: Ctx, name: str) -> list[types.PromptArgument] | None:
    """A template's variables as MCP prompt arguments (``None`` for a plain prompt)."""
    from dynamic_prompt.core.templates import Template, TemplateError, is_template

    try:
        text = await ctx.lifespan_context.store.part_text(name)
    except DynamicPromptError:
        return None
    if text is None or not is_template(text):
        return None
    try:
        names = Template.parse(text).variables
    except TemplateError:
        return None
    return [types.PromptArgument(name=n, description=f"The template variable {n!r}.", required=False)
            for n in names] or None


async def _list_prompts(ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
    summaries = await _summaries(ctx)
    wanted = summaries[:ARGUMENTS_FOR]
    arguments = dict(zip((p.name for p in wanted), await asyncio.gather(*(_arguments(ctx, p.name) for p in wanted))))
    prompts = [
        types.Prompt(
            name=p.name,
            title=f"System prompt {p.name!r}",
            description=f"Use the stored system prompt {p.name!r} ({_describe(p)}).",
            arguments=arguments.get(p.name),
        )
        for p in summaries
    ]
    return types.ListPromptsResult(prompts=prompts)


async def _get_prompt(ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
    try:
        name = validate_name(params.name)
    except DynamicPromptError as exc:
        raise MCPError(types.INVALID_PARAMS, str(exc)) from None
    uri = prompt_uri(name)
    text, version = await _prompt_text(ctx, name, uri)
    from dynamic_prompt.core.templates import Renderer, TemplateError, is_template

    if is_template(text):
        # A template renders on get, with the arguments as its variables; a missing one is
        # the client's mistake, said in one line.
        from dynamic_prompt.store.includes import gather_parts

        try:
            parts = await gather_parts(name, text, ctx.lifespan_context.store.part_text)
            text = Renderer(parts.get).render(name, dict(params.arguments or {}), text=text).text
        except TemplateError as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        except DynamicPromptError as exc:
            raise _protocol_error(exc) from None
    # MCP prompt messages have only the roles user and assistant, so the system
    # prompt travels as one user message; the description says what it is for.
    return types.GetPromptResult(
        description=f"The system prompt {name!r}, version {version}: use it as the system message.",
        messages=[types.PromptMessage(role="user", content=types.TextContent(text=text))],
        _meta={"version": version, "uri": uri},
    )


async def _remember_client(ctx: Ctx, call_next: Any) -> Any:
    """Middleware: note the connected client, so change notifications can reach it."""
    if ctx.request_id is not None:
        ctx.lifespan_context.notifier.attach(ctx.session, ctx.protocol_version, ctx.method)
    return await call_next(ctx)


# -- assembly -----------------------------------------------------------------------------------


CACHE_HINTS: dict[CacheableMethod, CacheHint] = {
    # Our tools and the template change only with an upgrade of this server.
    "tools/list": CacheHint(ttl_ms=3_600_000, scope="private"),
    "resources/templates/list": CacheHint(ttl_ms=3_600_000, scope="public"),
    "server/discover": CacheHint(ttl_ms=3_600_000, scope="public"),
    # Prompts change at any time, by anyone: a short freshness, and subscriptions/listen
    # (or resources/subscribe) tells a client the moment one changes.
    "resources/list": CacheHint(ttl_ms=5_000, scope="private"),
    "prompts/list": CacheHint(ttl_ms=5_000, scope="private"),
    "resources/read": CacheHint(ttl_ms=1_000, scope="private"),
}
"""The 2026-07-28 freshness hints (``ttlMs``, ``cacheScope``): neither hammering nor stale."""


def build_server(
    target: ServerTarget, settings: Settings, policy: SourcePolicy = SourcePolicy(), *, http: bool = False,
    max_listeners: int = 256,
) -> Server[AppState]:
    """The MCP server for the prompts on ``target``; its lifespan runs the change feed.

    ``http``: served to many clients over HTTP (tokens decide who may write); ``max_listeners``
    bounds the open ``subscriptions/listen`` streams.
    """
    bus = InMemorySubscriptionBus()

    @asynccontextmanager
    async def lifespan(_: Server[AppState]) -> AsyncIterator[AppState]:
        store = PromptStore.connect(target, settings)
        notifier = ChangeNotifier(store, bus)
        feed = feed_for(target)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(feed.run, notifier.on_event)
                try:
                    yield AppState(ToolContext(store, target, lambda: notifier.mode, policy), notifier, http)
                finally:
                    feed.stop()
                    tg.cancel_scope.cancel()
        finally:
            await store.aclose()

    server: Server[AppState] = Server(
        "dynamic-prompt",
        version=__version__,
        title="dynamic-prompt",
        description="LLM system prompts kept in Redis, tuned live.",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
        on_list_resources=_list_resources,
        on_list_resource_templates=_list_resource_templates,
        on_read_resource=_read_resource,
        on_subscribe_resource=_subscribe,
        on_unsubscribe_resource=_unsubscribe,
        on_subscriptions_listen=ListenHandler(bus, max_subscriptions=max_listeners),
        cache_hints=CACHE_HINTS,
        on_list_prompts=_list_prompts,
        on_get_prompt=_get_prompt,
    )
    server.middleware.append(_remember_client)
    return server


async def run_stdio(target: ServerTarget, settings: Settings, policy: SourcePolicy = SourcePolicy()) -> None:
    """Serve one client on stdin/stdout until it closes stdin."""
    from mcp.server.stdio import stdio_server

    server = build_server(target, settings, policy)
    options = server.create_initialization_options(
        NotificationOptions(prompts_changed=True, resources_changed=True)
    )
    log.info("serving the prompts on %s over stdio", target.display)
    log.info("load_prompt: %s", describe(policy))
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, options)


async def run_http(target: ServerTarget, settings: Settings, policy: SourcePolicy, tokens: Sequence[Any], *,
                   host: str, port: int, max_sessions: int, max_listeners: int, max_request_bytes: int) -> None:
    """Serve every client on ``host:port`` (Streamable HTTP at ``/mcp``) until interrupted."""
    import uvicorn

    from dynamic_prompt.mcp_server.http import build_app

    server = build_server(target, settings, policy, http=True, max_listeners=max_listeners)
    app = build_app(server, tokens, host=host, port=port, max_sessions=max_sessions,
                    max_request_bytes=max_request_bytes)
    writers = sum(1 for t in tokens if t.write)
    log.info("serving the prompts on %s over HTTP at http://%s:%d/mcp (%d tokens, %d may write)",
             target.display, host, port, len(tokens), writers)
    log.info("load_prompt: %s", describe(policy))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=3, limit_concurrency=max_sessions + max_listeners + 16)
    await uvicorn.Server(config).serve()
