"""Fault injection for the crash tests (tests/test_crash.py)."""

from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    """Fault injection for the crash tests: ``PAPERDIGEST_FAILPOINT=<name>`` kills the process
    here with SIGKILL, as a power cut or the OOM killer would.

    Names, in run order: after-ingest, before-digest, before-markdown, after-markdown-write,
    before-send, after-send, after-mark, before-feeds, mid-feeds (tests/test_crash.py).
    """
    if os.environ.get("PAPERDIGEST_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
