"""The pure core: no Redis, no screen.

Errors, the Redis key layout as data, value types, settings, text checks,
the diff and the instruction engine. Everything above (server, store, live,
and the faces) builds on these; nothing here imports them.
"""
