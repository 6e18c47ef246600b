"""Running the web app with uvicorn: ``paperdigest web`` in the foreground, ``paperdigest serve``
in a thread beside the schedule.

One process (the rate limits live in its memory). The access log is off: request paths hold
tokens and it would be one more place for them; errors are logged by the ``paperdigest.web``
logger. Behind a reverse proxy, ``[web] trusted_proxies`` are the addresses whose
``X-Forwarded-For`` and ``X-Forwarded-Proto`` uvicorn believes (the client's address is what
the per-client rate limit counts).
"""

from __future__ import annotations

import threading
from typing import Any

from paperdigest.config import Config, WebConfig
from paperdigest.errors import ConfigError
from paperdigest.delivery.signing import load_secret


def require_web(config: Config) -> WebConfig:
    """The config's ``[web]`` table, or the one-line error that it has none."""
    if config.web is None:
        raise ConfigError(f"{config.path}: no [web] table: add one with base_url = \"https://...\" to serve the web app")
    return config.web


def uvicorn_server(config: Config, secret: str, host: str | None = None, port: int | None = None,
                   **app_options: Any) -> Any:
    """A uvicorn server for the app (not started)."""
    import uvicorn

    from paperdigest.web.app import create_app

    web = require_web(config)
    app = create_app(config, secret, **app_options)
    settings = uvicorn.Config(app, host=host or web.host, port=port or web.port, access_log=False,
                              log_level="warning", proxy_headers=True,
                              forwarded_allow_ips=list(web.trusted_proxies), server_header=False,
                              timeout_graceful_shutdown=5)
    return uvicorn.Server(settings)


def run_server(config: Config, host: str | None = None, port: int | None = None) -> None:
    """Serve in the foreground until interrupted (``paperdigest web``)."""
    server = uvicorn_server(config, load_secret(), host, port)
    server.run()


def start_in_thread(config: Config) -> threading.Thread:
    """Serve in a daemon thread (``paperdigest serve`` with ``[web]``): it ends with the process."""
    server = uvicorn_server(config, load_secret())
    thread = threading.Thread(target=server.run, name="paperdigest-web", daemon=True)
    thread.start()
    return thread
