"""End to end: ``paperdigest run`` on the example config against a trivial Prefect flow.

Both sides are fresh processes with the same environment: one ``PREFECT_HOME`` for all
(warmed by one untimed run of each side first, as a machine that runs paperdigest daily
has it), analytics off, no ``PREFECT_API_URL``, so each process starts Prefect's temporary
server as ``make run`` does. ``paperdigest run`` gets a copy of ``config/paperdigest.toml``
whose relative paths land in a fresh folder per run (a new store and output folder, and a
link to ``examples/``), so every timed run ingests, ranks, renders and writes the outbox
for real. The baseline is ``python -m tests.benchmarks.trivial_flow``: one async flow with
one task. Alternated (ABBA, so drift cancels), 5 rounds; medians of wall time, which the
goal is about (ours / trivial <= 1.3), and of CPU time (the process and its temporary
server), which another load on the machine disturbs less.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import ROOT, goal, median, progress

ROUNDS = 5


def environment(prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="WARNING", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
               PYTHONPATH=str(ROOT))
    return env


def paperdigest_command(tmp: Path, k: int) -> list[str]:
    """A fresh run folder: config/paperdigest.toml (the example, as it is) and examples/ beside it."""
    run = tmp / f"run-{k}"
    (run / "config").mkdir(parents=True)
    shutil.copyfile(ROOT / "config" / "paperdigest.toml", run / "config" / "paperdigest.toml")
    (run / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    exe = Path(sys.executable).with_name("paperdigest")
    prefix = [str(exe)] if exe.exists() else [sys.executable, "-m", "paperdigest.cli"]
    return [*prefix, "run", "--config", str(run / "config" / "paperdigest.toml")]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process (CPU includes the temporary server it started)."""
    cpu, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"e2e: {' '.join(cmd[:3])} ... exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return seconds, _children_cpu() - cpu


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        env = environment(tmp / "prefect")
        trivial = [sys.executable, "-m", "tests.benchmarks.trivial_flow"]
        progress("e2e: warming PREFECT_HOME (one untimed run of each)")
        timed_run(trivial, env)
        timed_run(paperdigest_command(tmp, 0), env)
        ours: list[tuple[float, float]] = []
        base: list[tuple[float, float]] = []
        for r in range(1, ROUNDS + 1):
            if r % 2:
                ours.append(timed_run(paperdigest_command(tmp, r), env))
                base.append(timed_run(trivial, env))
            else:
                base.append(timed_run(trivial, env))
                ours.append(timed_run(paperdigest_command(tmp, r), env))
            progress(f"e2e: round {r}: paperdigest run {ours[-1][0]:.1f} s (cpu {ours[-1][1]:.1f} s), "
                     f"trivial flow {base[-1][0]:.1f} s (cpu {base[-1][1]:.1f} s)")
        o, b = median([w for w, _ in ours]), median([w for w, _ in base])
        oc, bc = median([c for _, c in ours]), median([c for _, c in base])
        ratio = o / b
        print(f"e2e: paperdigest run on the example config {o:.1f} s vs a one-task Prefect flow {b:.1f} s "
              f"(medians of {ROUNDS}, fresh processes, temporary Prefect server each): ratio {ratio:.2f} "
              f"{goal(ratio, '<=', 1.3)}; CPU {oc:.1f} s vs {bc:.1f} s: ratio {oc / bc:.2f}", flush=True)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
