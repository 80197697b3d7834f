"""Dramatiq middleware: what happens around every stage message, one concern per module.

Added in this order by :func:`docmill.actors.broker.build_broker`: the outage hold, crash accounting, retries,
failure recording, log context and message metrics. None of them holds pipeline logic; each calls into ``core``.
"""
