"""Shared fixtures. Tests never need the network; Prefect, when a test needs it, runs in a
temporary PREFECT_HOME."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SNAPSHOTS = SHARED / "snapshots"
SNAPSHOT_FILES = [SNAPSHOTS / n for n in ("000_834d25bcd37ab0d8.txt", "001_42b01aaf9e3df8c0.txt",
                                          "002_d2c0362872517f51.txt")]
FEEDS = SHARED / "feeds" / "hf-papers"
NOW = datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc)

# Keep Prefect out of the developer's home and out of the project's var/prefect (which `make`
# exports for `make run`), quiet and patient, for every test process and its subprocesses.
_PREFECT_HOME = tempfile.mkdtemp(prefix="paperdigest-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.pop("PAPERDIGEST_CONFIG", None)
os.environ.pop("PAPERDIGEST_SMTP_PASSWORD", None)

pytest_plugins = ["tests.golden_plugin"] if (Path(__file__).parent / "golden_plugin.py").exists() else []

BASE_CONFIG = """
[store]
url = "sqlite:///state.db"

[output]
dir = "out"

[email]
from = "Paper Digest <digest@example.org>"
list_unsubscribe = "mailto:unsubscribe@example.org"

[[profile]]
name = "inference"
title = "Efficient inference"
recipients = ["alice@example.org", "bob@example.org"]
keywords = { "quantization" = 3, "speculative decoding" = 3, "mixture of experts|moe" = 2 }
exclude = ["survey"]
min_score = 0.1
max_items = 20
"""


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config into tmp_path (BASE_CONFIG plus extra TOML) and return its path."""

    def make(extra: str = "", base: str = BASE_CONFIG, name: str = "paperdigest.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(base) + "\n" + textwrap.dedent(extra))
        return path

    return make


@pytest.fixture
def snapshot_files() -> list[Path]:
    missing = [p for p in SNAPSHOT_FILES if not p.exists()]
    if missing:
        pytest.fail(f"../shared/snapshots is missing: {missing[0]} (CI lays ../shared beside the project)")
    return SNAPSHOT_FILES
