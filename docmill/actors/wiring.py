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
from .middleware.outages import EmbeddedWatch, LedgerWatch, Watch
from .rabbitmq.housekeeping import address
from .stage_actors import StageActor, declare_actors, sender

__all__ = ["Pipeline", "wire"]


@dataclass
class Pipeline:
    """A runtime whose tasks go to the broker's actors, and what its workers do while a service is down."""

    runtime: Runtime
    broker: dramatiq.Broker
    actors: dict[str, StageActor]
    watch: Watch

    def close(self) -> None:
        """Close the runtime (store, sources, parsing processes, ledger), then the broker."""
        self.runtime.close()
        self.broker.close()


def wire(settings: Settings, *, recover_pending: bool = False, warm_up: bool = False, check: bool = True,
         stop_on_full_disk: bool = False) -> Pipeline:
    """Build the runtime, the broker for these settings, every stage actor, and connect them.

    ``recover_pending`` says that no other process can hold work in flight on
    this ledger (embedded mode locks its home), and ``warm_up`` that this
    process runs every stage (see ``Runtime.expect_work``). ``check`` builds the cheap
    plugin parts now, so bad settings fail before any work starts. Workers wait out the ledger's outages and a
    full disk; with ``stop_on_full_disk`` (an embedded command, which someone watches) a full disk stops the
    run instead (see outages.py).
    """
    runtime = Runtime(settings, plugins=settings.plugin_registry(), recover_pending=recover_pending, warm_up=warm_up,
                      events=metrics)
    if check:
        runtime.check()
    watch: Watch
    if settings.broker_url is not None:
        watch = LedgerWatch(runtime.ledger, address(settings.broker_url.get_secret_value()))
    else:
        watch = EmbeddedWatch() if stop_on_full_disk else LedgerWatch(runtime.ledger)
    broker = build_broker(settings, runtime, watch)
    actors = declare_actors(broker, runtime, settings)
    runtime.connect(sender(actors))
    return Pipeline(runtime, broker, actors, watch)
