"""What every front end does: run a job and watch it, submit to the workers, sync a source, report on the index.

The command line (``docmill.cli``), the scheduler and the HTTP API call this
package and nothing below it directly; nothing here prints, exits or knows a
front end. Long work reports its progress through callbacks that receive
:class:`~docmill.core.ledger.JobProgress` snapshots (``follow`` yields them).
"""

from .progress import follow
from .reports import JOB_PAGE, dead_letters, export, hit_record, index_status, job_status, search
from .runs import RunInterrupted, purge_dead_letters, retry_dead_letters, run, submit, wait
from .specs import FOLDER_SOURCE, folder_specs, has_ledger, source_id, source_spec
from .sync import sync_source
from .workers import check_stages, serve_metrics, serve_workers

__all__ = [
    "FOLDER_SOURCE",
    "JOB_PAGE",
    "RunInterrupted",
    "check_stages",
    "dead_letters",
    "export",
    "folder_specs",
    "follow",
    "has_ledger",
    "hit_record",
    "index_status",
    "job_status",
    "purge_dead_letters",
    "retry_dead_letters",
    "run",
    "search",
    "serve_metrics",
    "serve_workers",
    "source_id",
    "source_spec",
    "submit",
    "sync_source",
    "wait",
]
