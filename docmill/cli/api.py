"""`docmill api`: serve the HTTP API (and make tokens for it)."""

from __future__ import annotations

import click

from ..settings import load_settings
from .common import handles_configuration

__all__ = ["api"]


@click.command()
@click.option("--host", default=None, help="Address to listen on; default DOCMILL_API_HOST (127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port; default DOCMILL_API_PORT (8080).")
@click.option("--new-token", "new_token", metavar="NAME", default=None,
              help="Make a token for a caller named NAME, print it and the line for docmill.toml, and exit.")
@click.option("--revoke", "revoked", metavar="NAME", default=None,
              help="End the caller NAME for good (its token already removed from docmill.toml): its uploads stay "
                   "indexed but hidden from every caller, or are deleted with --delete-uploads; the name is never "
                   "given to a token again. Then exit.")
@click.option("--delete-uploads", is_flag=True, help="With --revoke: delete the caller's uploads from the index.")
@handles_configuration
def api(host: str | None, port: int | None, new_token: str | None, revoked: str | None,
        delete_uploads: bool) -> None:
    """Serve the HTTP API: uploads, jobs with live progress, search with filters, webhooks, a status page.

    Embedded mode processes uploads in this process; with DOCMILL_BROKER_URL
    set it only enqueues for `docmill worker` processes.
    """
    if delete_uploads and revoked is None:
        raise click.UsageError("--delete-uploads goes with --revoke NAME")
    if revoked is not None:
        _revoke(revoked, delete_uploads)
        return
    if new_token is not None:
        import re

        from ..api.auth import new_token as make

        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", new_token):
            raise click.BadParameter("lower-case letters, digits, '-' and '_'", param_hint="NAME")
        token, digest = make()
        click.echo(f"token for {new_token} (shown once; give it to the caller):\n  {token}\n"
                   f"add to docmill.toml:\n  [[api_tokens]]\n  name = \"{new_token}\"\n  sha256 = \"{digest}\"")
        return
    import logging

    from .. import api as http_api

    if logging.getLogger().level > logging.INFO:  # a service says what it does by default
        logging.getLogger().setLevel(logging.INFO)
    from ..app.backend import mode_of

    settings = load_settings()
    http_api.serve(settings, host=host, port=port, on_ready=lambda h, p: click.echo(
        f"docmill: API on http://{h}:{p}/ ({mode_of(settings)} mode); "
        "SIGTERM or Ctrl-C stops it", err=True))


def _revoke(name: str, delete_uploads: bool) -> None:
    from ..app.callers import revoke
    from .render import progress_bar

    settings = load_settings()
    done = revoke(settings, name, delete_uploads=delete_uploads,
                  watch=progress_bar("Deleting uploads") if delete_uploads else None,
                  on_wait=lambda: click.echo(f"docmill: a docmill process (an API?) is using {settings.home}; "
                                             "waiting for it to stop", err=True))
    held = f"{done.documents} uploaded document(s), {done.chunks} chunk(s)"
    if done.deleted:
        counts = ", ".join(f"{count} {state}" for state, count in sorted(done.counts.items())) or "nothing to do"
        fate = f"its {held}: deleted from the index (job {done.job_id}: {counts})"
    else:
        fate = (f"its {held}: kept in the index, hidden from every API caller (`docmill search` without --as "
                f"and `docmill export` still show them); delete them with `docmill api --revoke {name} "
                "--delete-uploads`")
    click.echo(f"{name} is revoked: {fate}. Its jobs stay in the history (DOCMILL_JOB_HISTORY_DAYS). No token may "
               f"be named {name} again.")
