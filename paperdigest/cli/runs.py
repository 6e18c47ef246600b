"""``run``, ``preview`` and ``serve``: the digest itself, now, as a preview, or on a schedule."""

from __future__ import annotations

import sys
from typing import Any

import click

from paperdigest.cli.app import config_option, current_time, emit, guard, main
from paperdigest.config import load_config


@main.command()
@config_option
@click.option("--snapshot", "snapshots", multiple=True, metavar="PATH",
              help="Also ingest this listing file (repeatable), besides the configured sources.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--without-prefect", is_flag=True,
              help="Run the same steps in this process without Prefect (no retries, no artifacts).")
@click.option("--scheduled", is_flag=True,
              help="For hourly runs: make a profile's digest only when [schedule] cron has fired since its "
                   "last one (web subscribers still get theirs at their hour).")
@guard
def run(config_path: str | None, snapshots: tuple[str, ...], as_json: bool, without_prefect: bool,
        scheduled: bool) -> None:
    """Run the digest now: ingest, rank, render, deliver, publish feeds.

    Runs the Prefect flow ``digest`` (a temporary Prefect server starts unless
    PREFECT_API_URL points at one). Whatever an earlier, interrupted run owed is sent too.
    With [web], web subscribers whose hour has come get what they are owed.
    """
    config = load_config(config_path)
    now = current_time()
    if without_prefect:
        from paperdigest.pipeline import run_digest

        report = run_digest(config, extra_snapshots=snapshots, now=now, scheduled=scheduled)
        data = report.to_json()
    else:
        from paperdigest.delivery.render import check_templates

        from paperdigest.pipeline.semantic import check_embedder

        check_templates(config.templates, now)  # before Prefect's server starts: fail in a moment
        check_embedder(config)  # the same for a bad [semantic] model (and the flow reuses the loaded one)
        from paperdigest.flows.digest import run_flow

        data = run_flow(str(config.path), list(snapshots), now, scheduled=scheduled)
    _print_run(data, as_json)
    if data.get("failed"):
        sys.exit(1)


def _print_run(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(data)
        return
    for s in data["snapshots"]:
        state = "FAILED" if s["error"] and not s["papers"] else ("duplicate" if s["duplicate"] else f"{s['new']} new")
        click.echo(f"ingest  {s['source']}: {state}" + (f" ({s['error']})" if s["error"] else "")
                   + (f" [warning: {s['warning']}]" if s.get("warning") else ""))
    for d in data["digests"]:
        sent = ", ".join(f"{e['to']}: {e['status']}" for e in d["emails"]) or "no email"
        click.echo(f"digest  {d['profile']}: {len(d['items'])} papers -> {d['markdown']}; {sent}; feed {d['feed']}")
    for e in data.get("other_emails", []):
        click.echo(f"resent  {e['digest']} to {e['to']}: {e['status']}")


# --------------------------------------------------------------------------- preview


@main.command()
@config_option
@click.option("--profile", "profile_name", required=True, help="The profile to preview.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "text", "rss"]), default="md", show_default=True)
@guard
def preview(config_path: str | None, profile_name: str, fmt: str) -> None:
    """Print what the profile's next digest would hold, without recording or sending anything."""
    from paperdigest.pipeline.preview import preview_digest

    config = load_config(config_path)
    click.echo(preview_digest(config, config.profile(profile_name), fmt, current_time()), nl=False)


# --------------------------------------------------------------------------- serve


@main.command()
@config_option
@guard
def serve(config_path: str | None) -> None:
    """Serve the ``digest`` deployment on the config's cron schedule (needs a Prefect server).

    With a [web] table, the web app is served beside it and the deployment runs every hour
    (digests still on [schedule] cron; each web subscriber at their own hour); it then needs
    PAPERDIGEST_SECRET.

    \b
    Terminal 1:  prefect server start
    Terminal 2:  PREFECT_API_URL=http://127.0.0.1:4200/api paperdigest serve
    Trigger now: prefect deployment run 'digest/paperdigest'
    """
    from paperdigest.flows.digest import serve_deployment

    config = load_config(config_path)
    if config.web is not None:
        from paperdigest.delivery.signing import load_secret

        load_secret()  # refuse before anything starts
    serve_deployment(config)
