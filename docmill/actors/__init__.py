"""The transport: Dramatiq broker set-up, the stage actors and their middleware.

The broker is built in :mod:`.broker` before any actor exists; actors are thin
wrappers over :mod:`docmill.core.stages`, declared per broker by
:func:`.stages.declare_actors`. Nothing here is imported by ``docmill.core``.
"""
