"""Replay: the 60 real captures of ``../shared/feeds/hf-papers/``, one run's work each, in order.

Per capture, timed: ``pipeline.ingest_capture`` (archive, parse, diff into the store), the
IDF statistics brought up to date (``term_stats``), a digest for each of the example
config's three profiles (``build_profile_digest``) and its Markdown (``write_markdown``).
Each capture is dated by its file name, and so is the run that reads it.
Only the JSON Feed files (``*.json``, 60) are replayed: the three ``*.xml`` are the same
captures in RSS, and replaying them too would count those captures twice.
The store is SQLite, fresh at the start; at the end it must hold every distinct paper of
the files: 278 distinct item ids, less the sentinel item "1" of the broken capture, so 277.
"""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from tests.benchmarks.common import ROOT, n, progress

from paperdigest import pipeline
from paperdigest.config import load_config
from paperdigest.models import normalize_arxiv_id
from paperdigest.store import Store

FEEDS = ROOT.parent / "shared" / "feeds" / "hf-papers"


def capture_time(path: Path) -> datetime:
    """2025-02-04T1804.json -> 2025-02-04 18:04 UTC."""
    return datetime.strptime(path.stem, "%Y-%m-%dT%H%M").replace(tzinfo=timezone.utc)


def distinct_papers(files: list[Path]) -> int:
    """Distinct papers the files name, read plainly: items whose id holds an arXiv id."""
    ids = {item.get("id") for f in files for item in json.loads(f.read_bytes()).get("items", [])}
    return len({normalize_arxiv_id(i) for i in ids if isinstance(i, str) and normalize_arxiv_id(i)})


def main() -> int:
    files = sorted(FEEDS.glob("*.json"))
    if not files:
        print(f"replay: skipped ({FEEDS} holds no captures)", flush=True)
        return 0
    config = load_config(ROOT / "config" / "paperdigest.toml")
    expected = distinct_papers(files)
    logging.getLogger("paperdigest").setLevel(logging.ERROR)  # short/broken captures: counted below
    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    times: list[float] = []
    digests = flagged = 0
    try:
        out = tmp / "out"
        with Store(f"sqlite:///{tmp / 'store.db'}") as store:
            for path in files:
                now = capture_time(path)
                start = time.perf_counter()
                cap = pipeline.Capture(source="hf-papers", captured=now, data=path.read_bytes())
                report = pipeline.ingest_capture(store, cap, output_dir=out, now=now)
                stats = pipeline.term_stats(store)
                day = pipeline.digest_day(config, now)
                for profile in config.profiles:
                    record = pipeline.build_profile_digest(store, profile, stats, now=now, day=day, tz=timezone.utc)
                    if record is not None:
                        pipeline.write_markdown(store, record.id, out)
                        digests += 1
                times.append(time.perf_counter() - start)
                flagged += bool(report.warning or report.error)
            papers = store.paper_count()
        progress(f"replay: {len(files)} captures ({flagged} flagged short or broken), {digests} digests")
        check = "as expected" if papers == expected else f"EXPECTED {expected}"
        ms = [t * 1000 for t in times]
        slowest = files[ms.index(max(ms))].name
        print(f"replay: {len(files)} real captures (JSON Feed) ingested and digested for {len(config.profiles)} "
              f"profiles in order: {statistics.mean(ms):.0f} ms mean, {statistics.median(ms):.0f} ms median, "
              f"{max(ms):.0f} ms max ({slowest}) per capture, {sum(times):.1f} s in all; {n(papers)} distinct "
              f"papers ({check})", flush=True)
        return 0 if papers == expected else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
