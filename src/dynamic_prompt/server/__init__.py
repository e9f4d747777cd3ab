"""How to reach which server: URLs, targets and clients (no screen here).

:mod:`.target` resolves the server to use (a URL, or the embedded default)
and builds redis-py clients for it; :mod:`.sentinel` and :mod:`.embedded` are
the kinds of server beyond a plain URL; :mod:`.errors` turns redis-py's
exceptions into one-line library errors.
"""

from dynamic_prompt.server.target import (
    SCHEMES,
    ServerTarget,
    async_client,
    resolve,
    sync_client,
    validate_url,
)

__all__ = ["SCHEMES", "ServerTarget", "async_client", "resolve", "sync_client", "validate_url"]
