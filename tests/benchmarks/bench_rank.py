"""Speed of ranking: the whole ``paperdigest rank`` process against a naive ranker.

Ours: 20,000 synthetic papers x 2,000 profiles of 8 keywords, timed as one process
(``paperdigest rank --config C LISTING --json > /dev/null``: start-up, parsing, ranking, JSON).
Naive: for each paper, profile and keyword, ``text.lower().count(term) * weight``, on 2,000
papers x 500 profiles, in this process (its start-up and parsing are not even counted).
Goal: ours / naive <= 0.5, and the rank process's peak RSS <= 500 MB. A third figure, the
same work through the library in a bare process (parse, rank, compact JSON), shows how much of
the command's time is ranking and how much is the command around it.

Broad profiles with descriptions: 20,000 papers x 2,000 profiles, half of them the rare-keyword
profiles above and half broad ones (frequent words and phrases: "of the", "results",
"experiments|evaluation", popular topics), every one with a description, so every profile ranks
by keywords and meaning. Timed as ``paperdigest rank --json --limit 20`` (a digest's length: a
broad profile lists nearly every paper) twice: with the store that a run leaves (the papers, their
vectors, IDF statistics: made untimed by ``paperdigest ingest``), and cold (no store: every
vector computed in the process). Against the naive ranker on 2,000 papers x 500 of these profiles
(half broad), in this process. Goal: <= 0.5, peak RSS <= 1 GB.

Run: ``.venv/bin/python -m tests.benchmarks.bench_rank`` (or the file as a script).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from paperdigest.config import Profile  # noqa: E402
from paperdigest.models import Paper  # noqa: E402
from tests.benchmarks.synthetic import (broad_profiles, synthetic_papers, synthetic_profiles,  # noqa: E402
                                        with_descriptions, write_config, write_listing)

PAPERS, PROFILES = 20_000, 2_000
NAIVE_PAPERS, NAIVE_PROFILES = 2_000, 500
SEED = 20250211


def naive_rank(papers: list[Paper], profiles: list[Profile]) -> dict[str, list[tuple[float, int]]]:
    """The baseline: substring counts times weight, alternatives of "a|b" summed."""
    texts = [(p.title + "\n" + p.abstract).lower() for p in papers]
    terms = {prof.name: [(alt.strip().lower(), w) for kw, w in prof.keywords.items() for alt in kw.split("|")]
             for prof in profiles}
    scores: dict[str, list[tuple[float, int]]] = {prof.name: [] for prof in profiles}
    for i, text in enumerate(texts):
        for prof in profiles:
            s = 0.0
            for term, w in terms[prof.name]:
                s += text.count(term) * w
            if s > 0:
                scores[prof.name].append((-s, i))
    for v in scores.values():
        v.sort()
    return scores


# The same work as ``paperdigest rank --json`` through the library alone: parse, rank, compact JSON
# (cyclic GC paused while the output is built). It shows what the command costs beyond the ranking.
LIBRARY_RANK = (
    "import gc, json, sys; from paperdigest.sources.parse import parse_listing; from paperdigest.config import load_config; "
    "from paperdigest.ranking import rank, item_to_json; c = load_config(sys.argv[1]); "
    "ps = parse_listing(open(sys.argv[2], 'rb').read(), name=sys.argv[2]).papers; "
    "r = rank(ps, list(c.profiles)); gc.disable(); "
    "sys.stdout.write(json.dumps({'profiles': [{'name': k, 'items': [item_to_json(i) for i in v]} "
    "for k, v in r.items()]}, ensure_ascii=False))")


def run_rank_process(config: Path, listing: Path, library: bool = False,
                     extra: tuple[str, ...] = ()) -> tuple[float, float, int, int]:
    """Wall and CPU seconds, peak RSS (KiB) and exit code of one ranking process (the CLI unless
    ``library``). CPU time is printed too: on a loaded machine it is the steadier figure."""
    exe = ROOT / ".venv" / "bin" / "paperdigest"
    if exe.exists() and not library:
        cmd = [str(exe), "rank", "--config", str(config), str(listing), "--json", *extra]
    else:
        cmd = [sys.executable, "-c", LIBRARY_RANK, str(config), str(listing)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        print(f"rank process failed (exit {proc.returncode}): {err.strip()[:500]}", file=sys.stderr)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-rank-"))
    try:
        papers = synthetic_papers(PAPERS, SEED)
        profiles = synthetic_profiles(PROFILES, SEED)
        listing = write_listing(papers, tmp / "listing.txt")
        config = write_config(profiles, tmp / "paperdigest.toml", max_input_bytes=200 * 1024 * 1024)
        print(f"cpus: {os.cpu_count()}")
        print(f"ours: {PAPERS} papers x {PROFILES} profiles x 8 keywords, listing {listing.stat().st_size / 1e6:.1f} MB")
        wall, cpu, rss_kib, code = run_rank_process(config, listing)
        print(f"ours wall (whole paperdigest rank process): {wall:.2f} s (cpu {cpu:.2f} s), exit {code}")
        print(f"ours peak RSS (paperdigest rank process): {rss_kib / 1024:.0f} MB")
        lib_wall, lib_cpu, lib_rss, lib_code = run_rank_process(config, listing, library=True)
        print(f"library process (parse + rank + compact JSON): {lib_wall:.2f} s (cpu {lib_cpu:.2f} s), "
              f"peak RSS {lib_rss / 1024:.0f} MB, exit {lib_code}")

        naive_papers = papers[:NAIVE_PAPERS]
        naive_profiles = profiles[:NAIVE_PROFILES]
        start, start_cpu = time.perf_counter(), time.process_time()
        naive = naive_rank(naive_papers, naive_profiles)
        naive_wall, naive_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        print(f"naive: {NAIVE_PAPERS} papers x {NAIVE_PROFILES} profiles: {naive_wall:.2f} s (cpu {naive_cpu:.2f} s, "
              f"{sum(map(len, naive.values()))} items)")
        print(f"ratio ours/naive: {wall / naive_wall:.2f} wall, {cpu / naive_cpu:.2f} cpu (goal <= 0.5)")
        print(f"ratio library process/naive: {lib_wall / naive_wall:.2f} wall, {lib_cpu / naive_cpu:.2f} cpu")
        print(f"peak RSS goal <= 500 MB: {'met' if rss_kib / 1024 <= 500 else 'MISSED'}")
        broad_code = broad_with_meaning(tmp, papers, listing)
        return 0 if code == 0 and lib_code == 0 and broad_code == 0 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def broad_with_meaning(tmp: Path, papers: list[Paper], listing: Path) -> int:
    """Half broad profiles, all with descriptions: the rank process with the store, and cold."""
    half = PROFILES // 2
    profiles = with_descriptions(synthetic_profiles(half, SEED) + broad_profiles(half, SEED, start=half), SEED)
    config = write_config(profiles, tmp / "broad.toml", store=tmp / "broad.db", max_input_bytes=200 * 1024 * 1024)
    exe = ROOT / ".venv" / "bin" / "paperdigest"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    print(f"broad: {PAPERS} papers x {PROFILES} profiles ({half} broad), all with descriptions; "
          "ingesting (untimed: the store and vectors a run leaves) ...", file=sys.stderr)
    primed = subprocess.run([str(exe), "ingest", "--config", str(config), str(listing), "--json"], env=env,
                            capture_output=True, text=True)
    if primed.returncode != 0:
        print(f"ingest failed (exit {primed.returncode}): {primed.stderr.strip()[:500]}", file=sys.stderr)
        return 1
    wall, cpu, rss, code = run_rank_process(config, listing, extra=("--limit", "20"))
    cold_config = write_config(profiles, tmp / "cold.toml", store=tmp / "absent" / "none.db",
                               max_input_bytes=200 * 1024 * 1024)
    cold_wall, cold_cpu, cold_rss, cold_code = run_rank_process(cold_config, listing, extra=("--limit", "20"))
    naive_profiles = profiles[: NAIVE_PROFILES // 2] + profiles[half: half + NAIVE_PROFILES // 2]
    start, start_cpu = time.perf_counter(), time.process_time()
    naive_rank(papers[:NAIVE_PAPERS], naive_profiles)
    naive_wall, naive_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    print(f"broad + meaning: rank --limit 20 with the store {wall:.2f} s (cpu {cpu:.2f} s), cold {cold_wall:.2f} s "
          f"(cpu {cold_cpu:.2f} s); naive {NAIVE_PAPERS} x {NAIVE_PROFILES} (half broad) {naive_wall:.2f} s "
          f"(cpu {naive_cpu:.2f} s): ratio {wall / naive_wall:.2f} with the store, {cold_wall / naive_wall:.2f} cold "
          f"(goal <= 0.5); peak RSS {rss / 1024:.0f} MB, cold {cold_rss / 1024:.0f} MB (goal <= 1 GB: "
          f"{'met' if max(rss, cold_rss) / 1024 <= 1024 else 'MISSED'})")
    return 0 if code == 0 and cold_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
