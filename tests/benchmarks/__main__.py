"""``make bench``: run the benchmarks, one line per figure on stdout.

    python -m tests.benchmarks                  # all, in this order
    python -m tests.benchmarks ingest delivery  # a subset

Each benchmark runs in its own process (its memory, its imports, its garbage collector),
one after the other, so none measures another's leftovers. Progress goes to stderr.
Every figure is a ratio against a baseline measured in the same run, or says what it is
measured against, because these machines are noisy: the first line gives the core count
and the load the machine already had.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time

from tests.benchmarks.common import ROOT

BENCHMARKS = ("rank", "quality", "ingest", "delivery", "e2e", "replay", "web")


def run(name: str) -> int:
    module = f"tests.benchmarks.bench_{name}"
    if importlib.util.find_spec(module) is None:
        print(f"{name}: skipped (tests/benchmarks/bench_{name}.py is not there)", flush=True)
        return 0
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    code = f"import sys; from {module} import main; sys.exit(main() or 0)"
    start = time.perf_counter()
    rc = subprocess.call([sys.executable, "-c", code], cwd=ROOT, env=env)
    print(f"  .. {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    if rc:
        print(f"{name}: failed (exit {rc}; its error is on stderr)", flush=True)
    return rc


def main(argv: list[str]) -> int:
    unknown = [a for a in argv if a not in BENCHMARKS]
    if unknown:
        print(f"usage: python -m tests.benchmarks [{' '.join(BENCHMARKS)}]...: unknown {', '.join(unknown)}",
              file=sys.stderr)
        return 2
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cores: {os.cpu_count()} (load average {load:.1f} at start)", flush=True)
    start = time.perf_counter()
    failed = [name for name in (argv or BENCHMARKS) if run(name)]
    print(f"  .. all: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
