"""Ingest: does a listing cost the same whatever the store already holds?

Fill: 200,000 synthetic papers (with arXiv ids, as a feed gives them) go into a fresh
SQLite store through ``Store.ingest``, in ten listings of 20,000; the figure is papers per
second of those ``ingest`` calls. Then one 10,000-paper listing, written as page text (no
arXiv ids, so every known paper is found by its folded title), is ingested into a copy of
the filled store and into an empty store. Half of it is already in the big store (the
5,000 papers filled last, as a listing repeats recent papers); in the empty store all
10,000 are new. Timed: open the store, read the file, hash it, parse it, ``Store.ingest``,
close; best of 5 (big and empty alternated, ABBA), each on a fresh copy of the database
file. Archiving the raw capture is left out: it costs the same whatever the store holds.

Goal: big / empty <= 1.2 (the diff looks up the papers it needs, it never loads history),
and a fill of at least 20,000 papers/s.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.benchmarks.common import goal, n, progress

from paperdigest.models import Listing
from paperdigest.sources.parse import parse_listing
from paperdigest.store import Store, content_hash
from tests.benchmarks.synthetic import synthetic_papers, write_listing

FILL = 200_000
CHUNK = 20_000
LISTING = 10_000
KNOWN = LISTING // 2
ROUNDS = 5
SEED = 20250207
T0 = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)


def _url(db: Path) -> str:
    return f"sqlite:///{db}"


def _copy_db(src: Path, dst: Path) -> None:
    """A fresh copy, flushed to disk: else the first checkpoint's fsync would pay for writing
    out the whole copied file, which a store in daily use never has pending."""
    for suffix in ("", "-wal", "-shm"):
        target = Path(f"{dst}{suffix}")
        target.unlink(missing_ok=True)
        source = Path(f"{src}{suffix}")
        if source.exists():
            shutil.copyfile(source, target)
            with target.open("rb+") as f:
                os.fsync(f.fileno())


def fill(db: Path, papers: list, chunk: int = CHUNK) -> float:
    """Ingest ``papers`` into a fresh store in listings of ``chunk``; seconds spent in ``ingest``."""
    spent = 0.0
    with Store(_url(db)) as store:
        for k, i in enumerate(range(0, len(papers), chunk)):
            listing = Listing(papers=list(papers[i:i + chunk]), format="hf-api")
            start = time.perf_counter()
            result = store.ingest(listing, source="fill", hash_=f"fill-{i}", captured=None,
                                  now=T0 + timedelta(hours=k))
            took = time.perf_counter() - start
            spent += took
            progress(f"ingest: fill listing {k + 1}: {n(len(listing.papers) / took)} papers/s")
            if result.new != len(listing.papers):
                raise SystemExit(f"ingest: fill listing {k} stored {result.new} of {len(listing.papers)} papers")
    return spent


def ingest_file(db: Path, listing: Path, now: datetime) -> tuple[float, int]:
    """The ingest path of one page-text file: seconds, and how many papers were new."""
    start = time.perf_counter()
    with Store(_url(db)) as store:
        data = listing.read_bytes()
        parsed = parse_listing(data, name=str(listing), captured=now)
        result = store.ingest(parsed, source="bench", hash_=content_hash(data), captured=now, now=now)
    return time.perf_counter() - start, result.new


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        progress(f"ingest: generating {n(FILL + LISTING - KNOWN)} synthetic papers")
        papers = synthetic_papers(FILL + LISTING - KNOWN, SEED)
        big, empty = tmp / "big.db", tmp / "empty.db"
        progress(f"ingest: filling a store with {n(FILL)} papers")
        fill_s = fill(big, papers[:FILL])
        Store(_url(empty)).close()
        listing = write_listing(papers[FILL - KNOWN:], tmp / "listing.txt")
        del papers
        times: dict[str, list[float]] = {"big": [], "empty": []}
        now = T0 + timedelta(days=1)
        for r in range(ROUNDS):
            pair = [("big", big, LISTING - KNOWN), ("empty", empty, LISTING)]
            for name, src, want in (pair if r % 2 == 0 else pair[::-1]):
                work = tmp / f"work-{name}.db"
                _copy_db(src, work)
                seconds, new = ingest_file(work, listing, now)
                if new != want:
                    raise SystemExit(f"ingest: {name} store took {new} new papers, expected {want}")
                times[name].append(seconds)
            progress(f"ingest: round {r + 1}: big {times['big'][-1]:.2f} s, empty {times['empty'][-1]:.2f} s")
        b, e = min(times["big"]), min(times["empty"])
        ratio = b / e
        rate = FILL / fill_s
        print(f"ingest: {n(LISTING)} papers ({n(LISTING - KNOWN)} new) into a {n(FILL)}-paper store "
              f"{b:.2f} s vs empty store {e:.2f} s (best of {ROUNDS}): ratio {ratio:.2f} {goal(ratio, '<=', 1.2)}; "
              f"fill {n(rate)} papers/s {goal(rate, '>=', 20_000, '20,000')}", flush=True)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
