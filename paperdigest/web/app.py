"""The app factory: one FastAPI app per config, holding what every route needs (:class:`Web`).

Every response, pages, feeds and errors alike, carries the security headers of
:mod:`paperdigest.web.pages` (a strict Content-Security-Policy, no referrer: links carry
tokens). No error shows a traceback or any configuration: an unexpected one is logged by its
type and answered with a plain 500 page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperdigest import __version__
from paperdigest.config import Config
from paperdigest.delivery.templating import render_template
from paperdigest.resources import builtin_templates
from paperdigest.store import Store
from paperdigest.delivery.links import Links
from paperdigest.web.pages import SECURITY_HEADERS, message_page
from paperdigest.web.ratelimit import SubscribeLimits
from paperdigest.delivery.signing import Signer

log = logging.getLogger("paperdigest.web")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Web:
    """Everything the routes share: the config, the store, the signer and links, the clock, the
    rate limits, how confirmation emails leave, and caches of rendered feeds and statistics."""

    config: Config
    store: Store
    signer: Signer
    links: Links
    clock: Callable[[], datetime] = utc_now
    limits: SubscribeLimits = field(default_factory=SubscribeLimits)
    open_sender: Callable[[], Any] | None = None  # tests: a sender instead of the config's SMTP
    cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def root(self) -> str:
        """The path of ``base_url``: pages link to ``root + "subscribe"`` and so on."""
        from urllib.parse import urlsplit

        return urlsplit(self.links.base_url).path or "/"

    def profile_names(self) -> list[str]:
        return [p.name for p in self.config.profiles]


def web_of(request: Request) -> Web:
    w: Web = request.app.state.web
    return w


class SecurityHeaders:
    """Adds the security headers to every response, and answers an unexpected error with a
    plain 500 page (logged by the error's type only: its message might quote anything). A
    plain ASGI middleware: cheap per request."""

    def __init__(self, app: ASGIApp, error_page: Callable[[], Response]) -> None:
        self.app = app
        self.error_page = error_page
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = list(message.get("headers", [])) + self.headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # noqa: BLE001 - the last resort for any route
            log.error("internal error on %s %s: %s", scope.get("method"), scope.get("path"), type(exc).__name__)
            if started:
                raise
            await self.error_page()(scope, receive, send_with_headers)


def create_app(config: Config, secret: str, *, store: Store | None = None, clock: Callable[[], datetime] = utc_now,
               open_sender: Callable[[], Any] | None = None, limits: SubscribeLimits | None = None) -> FastAPI:
    """The web app for ``config`` (which must have ``[web]``), signing with ``secret``."""
    from paperdigest.web import digests, feedback, feeds, manage, subscribe, unsubscribe

    assert config.web is not None, "create_app needs a config with [web]"
    signer = Signer(secret)
    web = Web(config=config, store=store or Store(config.store_url), signer=signer,
              links=Links(config.web.base_url, signer), clock=clock, open_sender=open_sender,
              limits=limits or SubscribeLimits())
    app = FastAPI(title="paperdigest", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = web
    for module in (subscribe, manage, unsubscribe, feedback, feeds, digests):
        app.include_router(module.router)
    css = render_template("partials/email_style.css.j2", {}, config.templates).encode("utf-8")

    @app.get("/style/email.css", include_in_schema=False)
    def email_css() -> Response:
        """The email's own stylesheet, so pages look like the email."""
        return Response(css, media_type="text/css; charset=utf-8", headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """No icon (browsers ask for one on every site)."""
        return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=builtin_templates() / "web" / "static"), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return message_page(web, "Not found", ["There is no page at this address."], status=404)
        if exc.status_code == 405:
            return message_page(web, "Not allowed", ["This page cannot be used that way."], status=405)
        return message_page(web, "Error", ["The request could not be handled."], status=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return message_page(web, "Bad request", ["The request could not be understood."], status=400)

    def internal_error() -> Response:
        return message_page(web, "Something went wrong", ["Nothing was changed. Please try again in a few minutes."],
                            status=500)

    app.add_middleware(SecurityHeaders, error_page=internal_error)
    return app
