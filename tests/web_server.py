"""The web app on a real uvicorn server on 127.0.0.1 (a free port bound here, served from a
thread), driven with httpx; and the outbox, where its confirmation emails and the runs'
digests land. Shared by the web tests, the browser test and the screenshot.
"""

from __future__ import annotations

import email
import re
import textwrap
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from paperdigest.config import Config, load_config

from .conftest import BASE_CONFIG

SECRET = "s3cret-for-tests-only-" + "Qz7" * 12  # searched for in every page, header and log
BASE_URL = "https://digest.example.org/"
WEB_TOML = f'\n[web]\nbase_url = "{BASE_URL}"\n'
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Clock:
    """The app's clock, pinned; tests move it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def free_socket() -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveServer:
    """``with LiveServer(config, clock) as live:`` serves the app until the block ends."""

    def __init__(self, config: Config, clock: Clock, sock: socket.socket | None = None, **app_options: Any) -> None:
        import uvicorn

        from paperdigest.web.app import create_app

        self.config = config
        self.sock = sock or free_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(config, SECRET, clock=clock, **app_options)
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.client = httpx.Client(base_url=self.url, timeout=10)
        self.seen: list[httpx.Response] = []  # every answer, to look for the secret in

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.web.store.close()

    @property
    def web(self) -> Any:
        return self.app.state.web

    def reset(self, config: Config, clock: Clock, limits: Any = None) -> LiveServer:
        """Serve another config and store from the same running server (a fresh app state), so a
        module's tests share one server start."""
        from paperdigest.store import Store
        from paperdigest.web.ratelimit import SubscribeLimits

        web = self.web
        web.store.close()
        web.config, web.store, web.clock = config, Store(config.store_url), clock
        web.limits = limits or SubscribeLimits()
        web.cache.clear()
        self.config = config
        self.client.cookies.clear()
        self.seen.clear()
        return self

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """``url`` may be an emailed link under BASE_URL: its path is asked of this server."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        r = self.client.request(method, path, **kwargs)
        self.seen.append(r)
        return r

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def csrf(self, url: str) -> str:
        """Load a page with a form (its cookie lands in the client) and return its CSRF field."""
        r = self.get(url)
        m = CSRF_RE.search(r.text)
        assert m, f"no CSRF field on {url} ({r.status_code})"
        return m.group(1)

    def post_form(self, url: str, data: dict[str, Any], *, form_page: str | None = None) -> httpx.Response:
        """POST ``data`` with the CSRF field of ``form_page`` (default: the same URL)."""
        token = self.csrf(form_page or url)
        return self.request("POST", url, data={**data, "csrf": token})

    def subscribe(self, address: str, **fields: Any) -> httpx.Response:
        return self.post_form("/subscribe", {"email": address, **fields})


def web_config(make_config: Any, extra: str = "") -> Config:
    return load_config(make_config(WEB_TOML + extra))


def outbox(config: Config, to: str | None = None, *, subject: str | None = None) -> list[EmailMessage]:
    """The outbox's emails (to one address, with a subject containing ``subject``), oldest first."""
    folder = Path(config.output_dir) / "outbox"
    msgs = []
    for path in sorted(folder.glob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name)) if folder.exists() else []:
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if (to is None or msg["To"] == to) and (subject is None or subject in str(msg["Subject"])):
            msgs.append(msg)  # type: ignore[arg-type]
    return msgs


def text_part(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return part.get_content()  # type: ignore[no-any-return]


def html_part(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return part.get_content()  # type: ignore[no-any-return]


def link(msg: EmailMessage, kind: str, base: str = BASE_URL) -> str:
    """The first ``<base>/<kind>/<token>`` link in the text part."""
    m = re.search(rf"{re.escape(base)}{kind}/\S+", text_part(msg))
    assert m, f"no {kind} link in: {text_part(msg)[:500]}"
    return m.group(0)


def confirm_latest(live: LiveServer, address: str) -> httpx.Response:
    """Follow the confirmation link of the newest confirmation email to ``address``."""
    msgs = outbox(live.config, address, subject="Confirm")
    assert msgs, f"no confirmation email to {address}"
    return live.get(link(msgs[-1], "confirm"))


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server per test module; the ``live`` fixture of each module resets it per test."""
    folder = tmp_path_factory.mktemp("web")
    (folder / "paperdigest.toml").write_text(textwrap.dedent(BASE_CONFIG) + WEB_TOML)
    with LiveServer(load_config(folder / "paperdigest.toml"), Clock(datetime.now(timezone.utc))) as server:
        yield server


def check_every_answer(live: LiveServer) -> None:
    """What every answer of a test must be: free of the secret, with the security headers."""
    from paperdigest.web.pages import CSP

    for r in live.seen:
        assert SECRET not in r.text and SECRET not in str(r.headers)
        assert r.headers["Content-Security-Policy"] == CSP, r.request.url
        assert r.headers["Referrer-Policy"] == "no-referrer"
