"""The transport: Dramatiq broker set-up, the stage actors and their middleware.

The broker is built in :mod:`.broker` before any actor exists; actors are thin
wrappers over :mod:`docmill.core.document_steps`, declared per broker by
:func:`.stage_actors.declare_actors`. Nothing here is imported by ``docmill.core``.

Embedded mode runs them in-process (:mod:`.embedded`). Distributed mode has a
client (:mod:`.distributed`: submit, watch, dead letters), worker processes
under a supervisor (:mod:`.worker`), and RabbitMQ housekeeping
(:mod:`.rabbitmq`). Middleware: :mod:`.retries`, :mod:`.middleware` (failure
recording) and :mod:`.crashguard` (redelivery accounting).
"""
