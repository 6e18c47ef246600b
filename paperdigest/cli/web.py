"""``web``: the reader-facing web app (subscribe, confirm, manage, unsubscribe, feeds, digests)."""

from __future__ import annotations

import click

from paperdigest.cli.app import config_option, guard, main
from paperdigest.config import load_config


@main.command()
@config_option
@click.option("--host", default=None, help="Address to listen on (default: [web] host, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: [web] port, else 8000).")
@guard
def web(config_path: str | None, host: str | None, port: int | None) -> None:
    """Serve the web app for readers until interrupted.

    \b
    Readers subscribe (with a confirmation email), choose profiles or a personal one, set
    their send hour and time zone, give feedback on papers and unsubscribe in one click;
    feeds and past digests are served too. Needs a [web] table in the config (base_url: the
    public address, usually a reverse proxy in front of this) and PAPERDIGEST_SECRET in the
    environment (a long random string that signs links and forms). Run it beside an hourly
    schedule (paperdigest serve does both) so each reader gets their digest at their hour.
    """
    from paperdigest.delivery.signing import load_secret
    from paperdigest.web.server import require_web, run_server

    config = load_config(config_path)
    web = require_web(config)
    load_secret()  # refuse before anything starts
    click.echo(f"paperdigest web: listening on http://{host or web.host}:{port or web.port}/ "
               f"for {web.base_url}", err=True)
    run_server(config, host, port)
