"""What keeps readers current: the change feed, the near cache, the agents' client.

:mod:`.feed` turns keyspace notifications (or the change channel, or polls)
into events; :mod:`.cache` decides what may be served from memory;
:mod:`.client` is the agents' client and :mod:`.engine` its background work.
"""
