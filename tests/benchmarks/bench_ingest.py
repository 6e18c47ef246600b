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

With embeddings: the first 40,000 of those papers, in listings of 20,000, go into a fresh
store through ``Store.ingest`` and then ``pipeline.embed_papers`` (WordLlama, a fresh model
per round, so every word is tokenized anew as in a new process; loading the model, about
0.3 s once per process, is left out), against the same ingest without embeddings; best of 3,
alternated. Goal: at least 5,000 papers/s with embeddings. A last line embeds the real
abstracts of ../shared/feeds (every distinct paper, cold) with our pooling and with
WordLlama's own ``embed``: texts per second, best of 5.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.benchmarks.common import ROOT, goal, n, progress, timed

from paperdigest.config import Config, EmailConfig, FeedConfig, Profile, ScheduleConfig
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


EMBED_PAPERS = 40_000
EMBED_ROUNDS = 3


def _embed_config(tmp: Path) -> Config:
    reader = Profile(name="meaning", title="By meaning", description="Cheaper and faster language models.")
    return Config(path=tmp / "paperdigest.toml", store_url=_url(tmp / "embed.db"), output_dir=tmp / "out",
                  sources=(), profiles=(reader,), email=EmailConfig(from_addr="digest@example.org"),
                  schedule=ScheduleConfig(), feed=FeedConfig())


def ingest_with_embeddings(tmp: Path, papers: list, embed: bool) -> float:
    """Seconds to ingest ``papers`` (listings of CHUNK) into a fresh store, and embed them if asked."""
    from paperdigest.pipeline import embed_papers
    from paperdigest.ranking.staticmodel import load_wordllama

    config = _embed_config(tmp)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp / 'embed.db'}{suffix}").unlink(missing_ok=True)
    model = load_wordllama()  # fresh: its memory of tokenized words starts empty
    spent = 0.0
    with Store(config.store_url) as store:
        for k, i in enumerate(range(0, len(papers), CHUNK)):
            listing = Listing(papers=list(papers[i:i + CHUNK]), format="hf-api")
            start = time.perf_counter()
            store.ingest(listing, source="fill", hash_=f"embed-{i}", captured=None, now=T0 + timedelta(hours=k))
            if embed and embed_papers(store, config, lambda _c: model) != len(listing.papers):
                raise SystemExit("ingest: embed_papers did not embed every new paper")
            spent += time.perf_counter() - start
    return spent


def embedding_rates(tmp: Path, papers: list) -> None:
    times: dict[bool, list[float]] = {False: [], True: []}
    for r in range(EMBED_ROUNDS):
        for embed in ((False, True) if r % 2 == 0 else (True, False)):
            times[embed].append(ingest_with_embeddings(tmp, papers, embed))
        progress(f"ingest: embeddings round {r + 1}: without {times[False][-1]:.2f} s, with {times[True][-1]:.2f} s")
    plain, with_e = len(papers) / min(times[False]), len(papers) / min(times[True])
    print(f"ingest: {n(len(papers))} papers into a fresh store with embeddings (WordLlama) {n(with_e)} papers/s "
          f"{goal(with_e, '>=', 5_000, '5,000')} vs without {n(plain)} papers/s (best of {EMBED_ROUNDS})", flush=True)


def real_abstract_rates() -> None:
    """Our pooling against WordLlama's own embed on real abstracts (read from ../shared, not copied)."""
    import json
    import logging

    from paperdigest.models import Paper
    from paperdigest.ranking.embedding import paper_text
    from paperdigest.ranking.staticmodel import load_wordllama, wordllama_folder

    texts: dict[str, str] = {}
    for f in sorted((ROOT.parent / "shared" / "feeds" / "hf-papers").glob("*.json")):
        for item in json.loads(f.read_text("utf-8")).get("items", []):
            texts.setdefault(item["id"], paper_text(Paper(item["title"], item.get("content_text") or "")))
    if not texts:
        print("ingest: real abstracts: skipped (../shared/feeds is not there)", flush=True)
        return
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from wordllama import WordLlama  # its import configures the root logger: undone below

    root.handlers[:] = handlers
    root.setLevel(level)
    theirs = WordLlama.load(config="l2_supercat", dim=256, cache_dir=wordllama_folder(), disable_download=True)
    batch = list(texts.values())

    def ours() -> float:
        model = load_wordllama()  # fresh: no word tokenized yet
        return timed(lambda: model.embed(batch))

    ours_s = min(ours() for _ in range(5))
    theirs_s = min(timed(lambda: theirs.embed(batch, norm=True)) for _ in range(5))
    print(f"ingest: embedding {len(batch)} real abstracts (cold): ours {n(len(batch) / ours_s)} texts/s, "
          f"WordLlama's embed {n(len(batch) / theirs_s)} texts/s (best of 5)", flush=True)


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
        first_papers = papers[:EMBED_PAPERS]
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
        embedding_rates(tmp, first_papers)
        real_abstract_rates()
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
