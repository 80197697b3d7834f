"""The stage actors: one per stage, each on its own queue, each a thin wrapper over core.document_steps.

Retry policy lives here, decided by the error class alone: a PermanentError
(or bad configuration) fails at once; a TransientError backs off
exponentially with jitter up to ``max_retries``; anything else is a bug or an
untranslated library error and gets one more try before it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import dramatiq

from ..core import document_steps
from ..core.errors import ConfigurationError, PermanentError, TransientError
from ..core.ledger_records import PIPELINE, Stage
from ..core.runtime import Runtime
from ..core.values import Task
from ..settings import Settings

#: A stage's actor: it takes a message's keyword arguments and returns nothing.
StageActor = dramatiq.Actor[..., None]

__all__ = ["QUEUES", "WORK_STAGES", "StageActor", "declare_actors", "isolation_queue", "queue_names", "sender"]

#: Queue of each stage: ``docmill.<stage>``. Removals and relabels are store work, so they share its queue.
QUEUES: dict[Stage, str] = {stage: f"docmill.{stage}" for stage in PIPELINE} | {
    Stage.REMOVE: "docmill.store", Stage.RELABEL: "docmill.store"}

#: The stages a worker can be told to run, in pipeline order.
WORK_STAGES = PIPELINE

#: Worker-side priority (lower runs first): finish documents before starting new ones,
#: which keeps memory flat and results arriving steadily.
PRIORITIES = {Stage.STORE: 0, Stage.REMOVE: 0, Stage.RELABEL: 0, Stage.EMBED: 10, Stage.OCR: 20,
              Stage.EXTRACT: 30, Stage.DISCOVER: 40}

#: What carries out each stage; the actor of a stage is named after it.
STAGE_FUNCTIONS: dict[Stage, Callable[..., None]] = {
    Stage.DISCOVER: document_steps.discover,
    Stage.EXTRACT: document_steps.extract,
    Stage.OCR: document_steps.ocr,
    Stage.EMBED: document_steps.embed,
    Stage.STORE: document_steps.store,
    Stage.REMOVE: document_steps.remove,
    Stage.RELABEL: document_steps.relabel,
}


def retry_policy(max_retries: int) -> Callable[[int, BaseException], bool]:
    """Dramatiq's ``retry_when``: should a message that raised be tried again?"""

    def should_retry(retries: int, exception: BaseException) -> bool:
        if isinstance(exception, PermanentError | ConfigurationError):
            return False
        if isinstance(exception, TransientError):
            return retries < max_retries
        return retries < min(1, max_retries)

    return should_retry


#: Suffix of the queues where messages suspected of killing their worker are re-run one at a time.
ISOLATION = ".isolated"


def isolation_queue(queue: str) -> str:
    """The queue where suspects from ``queue`` run alone, in a process running nothing else."""
    return queue if queue.endswith(ISOLATION) else queue + ISOLATION


def queue_names(stages: Iterable[str] | None = None, *, isolation: bool = False) -> set[str]:
    """The queues of these stages (all when None), and their isolation queues too with ``isolation``.

    Raises ValueError naming an unknown stage.
    """
    chosen = list(QUEUES) if stages is None else list(stages)
    unknown = [s for s in chosen if s not in QUEUES]
    if unknown:
        raise ValueError(f"no such stage: {', '.join(unknown)} (stages: {', '.join(WORK_STAGES)})")
    queues = {QUEUES[Stage(s)] for s in chosen}
    return queues | {isolation_queue(q) for q in queues} if isolation else queues


def declare_actors(broker: dramatiq.Broker, runtime: Runtime, settings: Settings) -> dict[str, StageActor]:
    """Declare every stage actor on ``broker``, bound to ``runtime``."""
    options: dict[str, Any] = {
        "retry_when": retry_policy(settings.max_retries),
        "min_backoff": int(settings.retry_min_backoff * 1000),
        "max_backoff": int(settings.retry_max_backoff * 1000),
        "throws": (PermanentError, ConfigurationError),
        "time_limit": int(settings.stage_time_limit * 1000),
    }
    actors: dict[str, StageActor] = {}  # by stage
    for stage, function in STAGE_FUNCTIONS.items():

        def run(_function: Callable[..., None] = function, **kwargs: Any) -> None:
            _function(runtime, **kwargs)

        run.__name__ = run.__qualname__ = stage
        actors[stage] = dramatiq.Actor(run, broker=broker, actor_name=stage, queue_name=QUEUES[stage],
                                       priority=PRIORITIES[stage], options=dict(options))
    return actors


def sender(actors: dict[str, StageActor]) -> Callable[[Task], None]:
    """The ``send`` a Runtime uses: a Task becomes a message on its stage's queue, at the document's priority.

    A broker that cannot take the message (RabbitMQ restarting) is a
    TransientError: the stage is retried, and its guarded ledger steps make
    the second run converge with the first.
    """

    def send(task: Task) -> None:
        try:
            actors[task.stage].send_with_options(kwargs=dict(task.args), broker_priority=task.priority)
        except dramatiq.errors.BrokerConnectionError as exc:
            raise TransientError(f"the message broker did not take the {task.stage} message: {exc}",
                                 kind="broker unavailable") from exc

    return send
