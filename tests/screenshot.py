"""Screenshot the HTML email of the sample digest: ``python -m tests.screenshot docs/email.png``;
with ``--subscribe``, the web app's subscribe page (``make screenshot`` writes docs/subscribe.png).

Uses Debian's headless chromium with everything that could reach the network switched off;
the email itself holds no external resource, so the picture is exactly what a reader sees.
Pass ``--dark`` to render with the dark color scheme.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from paperdigest.delivery.render import render_html
from tests.sample_digest import sample_view

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Everything that could reach the network or need a GPU switched off (the browser test too).
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: str | None, out: Path, *, width: int = 800, height: int = 1400, dark: bool = False,
               timeout: float = 90.0, url: str | None = None) -> None:
    """Screenshot ``html`` (written to a file) or the page at ``url``."""
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("error: chromium not found: install Debian's chromium package (apt-get install chromium)")
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paperdigest-shot-") as tmp:
        page = Path(tmp) / "email.html"
        page.write_text(html or "", encoding="utf-8")
        cmd = [chromium, *BROWSER_FLAGS, "--hide-scrollbars", f"--user-data-dir={Path(tmp) / 'profile'}",
               f"--window-size={width},{height}", f"--screenshot={out}"]
        if dark:
            cmd.append("--force-dark-mode")
        cmd.append(url or page.as_uri())
        if out.exists():
            out.unlink()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SystemExit(f"error: chromium took longer than {timeout:.0f} s to take the screenshot") from None
        if not out.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise SystemExit(f"error: chromium wrote no screenshot (exit {proc.returncode}): {last}")


def subscribe_page(out: Path, *, dark: bool = False) -> None:
    """The web app's subscribe page, served by a real server over a store that holds the sample
    digest's papers, with the preview of one profile open."""
    import os
    import textwrap
    from datetime import timedelta

    from paperdigest.config import load_config
    from paperdigest.models import Listing
    from paperdigest.store import Store
    from tests.web_server import SECRET, Clock, LiveServer, free_socket

    view = sample_view()
    os.environ.setdefault("PAPERDIGEST_SECRET", SECRET)
    with tempfile.TemporaryDirectory(prefix="paperdigest-web-shot-") as tmp:
        sock = free_socket()
        config_path = Path(tmp) / "paperdigest.toml"
        config_path.write_text(textwrap.dedent(f"""
            [store]
            url = "sqlite:///{tmp}/state.db"
            [output]
            dir = "{tmp}/out"
            [web]
            base_url = "http://127.0.0.1:{sock.getsockname()[1]}/"
            [[profile]]
            name = "efficient-inference"
            title = "Efficient inference"
            keywords = {{ "speculative decoding" = 3, "quantization" = 3, "kv cache" = 2, "latency" = 1 }}
            [[profile]]
            name = "agents"
            title = "Agents and tool use"
            keywords = {{ "agent|agents" = 3, "tool use" = 3, "planning" = 2 }}
            """))
        config = load_config(config_path)
        with Store(config.store_url) as store:
            store.ingest(Listing([it.paper for it in view.items]), source="sample", hash_="sample", captured=None,
                         now=view.created - timedelta(hours=1))
        with LiveServer(config, Clock(view.created), sock=sock) as live:
            screenshot(None, out, width=800, height=1500, dark=dark, url=f"{live.url}/subscribe?profile=efficient-inference")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG file to write, e.g. docs/email.png")
    parser.add_argument("--dark", action="store_true", help="render with prefers-color-scheme: dark")
    parser.add_argument("--subscribe", action="store_true", help="the web app's subscribe page instead of the email")
    args = parser.parse_args(argv)
    if args.subscribe:
        subscribe_page(args.out, dark=args.dark)
    else:
        screenshot(render_html(sample_view()), args.out, dark=args.dark)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
