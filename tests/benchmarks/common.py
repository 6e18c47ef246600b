"""What every benchmark shares: the project root on ``sys.path``, number formatting, goals.

Each benchmark prints its figures on stdout, one line each, and its progress on stderr,
so ``make bench | tee figures.txt`` keeps only the figures.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def n(value: int | float) -> str:
    """10000 -> "10,000"."""
    return f"{round(value):,}"


def goal(value: float, op: str, target: float, shown: str | None = None) -> str:
    """``(goal <= 1.2: met)``; a missed goal says MISSED, so it stands out in a log."""
    met = value <= target if op == "<=" else value >= target
    return f"(goal {op} {shown or f'{target:g}'}: {'met' if met else 'MISSED'})"


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
