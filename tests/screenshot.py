"""Screenshot the HTML email of the sample digest: ``python -m tests.screenshot docs/email.png``.

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


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: str, out: Path, *, width: int = 800, height: int = 1400, dark: bool = False,
               timeout: float = 90.0) -> None:
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("error: chromium not found: install Debian's chromium package (apt-get install chromium)")
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paperdigest-shot-") as tmp:
        page = Path(tmp) / "email.html"
        page.write_text(html, encoding="utf-8")
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={Path(tmp) / 'profile'}",
               f"--window-size={width},{height}", f"--screenshot={out}"]
        if dark:
            cmd.append("--force-dark-mode")
        cmd.append(page.as_uri())
        if out.exists():
            out.unlink()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SystemExit(f"error: chromium took longer than {timeout:.0f} s to take the screenshot") from None
        if not out.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise SystemExit(f"error: chromium wrote no screenshot (exit {proc.returncode}): {last}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG file to write, e.g. docs/email.png")
    parser.add_argument("--dark", action="store_true", help="render with prefers-color-scheme: dark")
    args = parser.parse_args(argv)
    screenshot(render_html(sample_view()), args.out, dark=args.dark)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
