"""Golden files: compare rendered output with a file under tests/golden/, or rewrite it.

Regenerate with ``pytest --regen-golden`` (the option comes from tests/golden_plugin.py) or
with ``PAPERDIGEST_REGEN_GOLDEN=1`` in the environment; review the diff before committing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
REGEN_ENV = "PAPERDIGEST_REGEN_GOLDEN"


def assert_golden(actual: str, name: str, *, regen: bool = False) -> None:
    """Fail with a unified diff when ``actual`` differs from tests/golden/<name>."""
    path = GOLDEN_DIR / name
    if regen or os.environ.get(REGEN_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
        return
    if not path.exists():
        pytest.fail(f"{path}: golden file missing; create it with `pytest --regen-golden`", pytrace=False)
    expected = path.read_text(encoding="utf-8")
    if actual == expected:
        return
    diff = "".join(difflib.unified_diff(
        expected.splitlines(keepends=True), actual.splitlines(keepends=True),
        fromfile=f"tests/golden/{name} (expected)", tofile=f"{name} (rendered now)", n=2))
    pytest.fail(f"{name} differs from its golden file; if the change is intended, run "
                f"`pytest --regen-golden` and review the diff.\n{diff}", pytrace=False)
