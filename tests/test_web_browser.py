"""The pages in a real headless Chromium (Debian's ``chromium`` package, driven by Playwright,
which never downloads a browser of its own here): preview, subscribe, confirm through the
emailed link, change the send hour, unsubscribe with the button, resubscribe. The browser
enforces the Content-Security-Policy and the SameSite cookie, so this also shows that the
pages need nothing the policy forbids. Skipped, saying why, without a Chromium.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from paperdigest.config import load_config
from paperdigest.pipeline import run_digest

from .conftest import NOW
from .screenshot import BROWSER_FLAGS, find_chromium
from .test_pipeline import LISTING_A
from .web_server import SECRET, Clock, LiveServer, free_socket, link, outbox

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH: install Debian's chromium package "
                                "(apt-get install chromium; .ci/run tries to) to run the browser test")


@pytest.fixture
def browser_page() -> Iterator[object]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="paperdigest-browser-") as profile:
        context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                        args=BROWSER_FLAGS, viewport={"width": 800, "height": 1200})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()


def test_a_reader_subscribes_tunes_and_leaves_in_a_browser(browser_page, make_config, tmp_path: Path,
                                                           monkeypatch) -> None:
    page = browser_page
    monkeypatch.setenv("PAPERDIGEST_SECRET", SECRET)
    sock = free_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    config = load_config(make_config(f'[web]\nbase_url = "{base}"\n'))
    (tmp_path / "a.txt").write_text(LISTING_A)
    run_digest(config, extra_snapshots=[str(tmp_path / "a.txt")], now=NOW - timedelta(hours=1))
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda err: problems.append(str(err)))

    with LiveServer(config, Clock(NOW), sock=sock):
        page.goto(base + "subscribe")
        assert page.title() == "Subscribe · paperdigest" and page.locator("script").count() == 0
        page.fill("#email", "reader@example.org")
        page.check("input[name=profile][value=inference]")
        page.click("#preview")
        assert page.locator("text=Preview: Efficient inference").is_visible()
        assert page.locator("text=Quantization Without Calibration Data").first.is_visible()
        assert page.input_value("#email") == "reader@example.org"  # the form keeps what was typed
        page.click("#subscribe")
        assert page.locator("h1").inner_text() == "Check your inbox"

        page.goto(link(outbox(config, "reader@example.org")[-1], "confirm", base))
        assert page.locator("h1").inner_text() == "You are subscribed"
        page.click("text=Change your subscription")
        page.select_option("#send_hour", "9")
        page.select_option("#timezone", "Europe/Berlin")
        page.fill("#keywords", "speculative decoding, kv cache")
        page.click("#save")
        assert page.locator("#saved").is_visible()
        assert page.input_value("#send_hour") == "9" and page.input_value("#keywords") == "speculative decoding, kv cache"
        assert page.locator("text=Your private feed").is_visible()

        page.click("text=Unsubscribe from everything")
        page.click("#unsubscribe")
        assert page.locator("h1").inner_text() == "You are unsubscribed"
        page.click("#resubscribe")
        assert page.locator("h1").inner_text() == "Welcome back"
    assert problems == []  # no CSP violation, no script error, nothing blocked
