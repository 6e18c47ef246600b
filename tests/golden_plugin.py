"""pytest plugin: the ``--regen-golden`` option and the ``golden`` fixture.

Load it from the root tests/conftest.py with ``pytest_plugins = ["tests.golden_plugin"]``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.golden_util import assert_golden


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden/ instead of comparing")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``golden(actual, "digest.md")``: compare with tests/golden/digest.md (or rewrite it)."""
    regen = bool(request.config.getoption("--regen-golden", default=False))

    def check(actual: str, name: str) -> None:
        assert_golden(actual, name, regen=regen)

    return check
