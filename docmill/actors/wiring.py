"""The one place a pipeline is wired: runtime, broker, actors, and the sender that joins them.

Embedded mode, the distributed client (which discovers what it submits) and
worker processes all build the same thing; only the settings (which broker)
and whether this process owns the ledger differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq

from .. import metrics
from ..core.runtime import Runtime
from ..settings import Settings
from .broker import build_broker
from .stages import declare_actors, sender

__all__ = ["Pipeline", "wire"]


@dataclass
class Pipeline:
    """A runtime whose tasks go to the broker's actors."""

    runtime: Runtime
    broker: dramatiq.Broker
    actors: dict[str, dramatiq.Actor]

    def close(self) -> None:
        """Close the runtime (store, sources, parsing processes, ledger), then the broker."""
        self.runtime.close()
        self.broker.close()


def wire(settings: Settings, *, recover_pending: bool = False, warm_up: bool = False, check: bool = True) -> Pipeline:
    """Build the runtime, the broker for these settings, every stage actor, and connect them.

    ``recover_pending`` says that no other process can hold work in flight on
    this ledger (embedded mode locks its home), and ``warm_up`` that this
    process runs every stage (see ``Runtime.expect_work``). ``check`` builds the cheap
    plugin parts now, so bad settings fail before any work starts.
    """
    runtime = Runtime(settings, recover_pending=recover_pending, warm_up=warm_up, events=metrics)
    if check:
        runtime.check()
    broker = build_broker(settings, runtime)
    actors = declare_actors(broker, runtime, settings)
    runtime.connect(sender(actors))
    return Pipeline(runtime, broker, actors)
