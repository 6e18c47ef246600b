"""Replay the sixty real captures of ../shared/feeds/hf-papers through ingest, in capture order,
as one live source would have delivered them, into one SQLite store."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from paperdigest.pipeline import Capture, InputReport, ingest_capture
from paperdigest.store import Store

from .conftest import FEEDS

SOURCE = "hf-papers"


def captured_at(path: Path) -> datetime:
    """``2025-02-04T1804.json`` was captured at 18:04 UTC on 4 February 2025."""
    return datetime.strptime(path.stem, "%Y-%m-%dT%H%M").replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def captures() -> list[Path]:
    found = sorted(FEEDS.glob("*.json"))
    if len(found) != 60:
        pytest.fail(f"{FEEDS}: expected the 60 JSON Feed captures, found {len(found)}")
    return found


@pytest.fixture(scope="module")
def replay(captures: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[InputReport]]:
    root = tmp_path_factory.mktemp("replay")
    reports = []
    with Store(f"sqlite:///{root / 'state.db'}") as store:
        for path in captures:
            when = captured_at(path)
            cap = Capture(source=SOURCE, captured=when, data=path.read_bytes())
            reports.append(ingest_capture(store, cap, output_dir=root / "out", now=when))
    return root, reports


def test_sixty_captures_hold_277_papers_plus_the_sentinel(captures, replay) -> None:
    root, reports = replay
    with Store(f"sqlite:///{root / 'state.db'}") as store:
        stored = {p.arxiv_id for _, p in store.papers_after(0)}
    assert all(r.error is None for r in reports), [r.error for r in reports if r.error]
    assert len(stored) == 277 and None not in stored
    assert sum(r.new for r in reports) == 277  # each paper counted new exactly once
    # The feed's own count, 1,100 items and 278 distinct ids, includes the broken captures'
    # sentinel item (id "1"), which is never a paper.
    ids = [item["id"] for path in captures for item in json.loads(path.read_bytes())["items"]]
    assert (len(ids), len(set(ids))) == (1100, 278)
    assert {i.rsplit("/", 1)[-1] for i in ids} - stored == {"1"}


def test_broken_and_short_captures_are_flagged(captures, replay) -> None:
    _root, reports = replay
    flagged = {path.name: r.warning for path, r in zip(captures, reports) if r.warning}
    broken = sorted(n for n, w in flagged.items() if "looks broken" in w)
    short = sorted(n for n, w in flagged.items() if "looks short" in w)
    assert broken == ["2025-02-12T1326.json"]
    assert "Something is wrong" in flagged[broken[0]]
    # The scraper's early-morning captures of a fresh day: 10, 9 and 9 papers against a median of 21.
    assert short == ["2025-02-10T0508.json", "2025-02-17T0522.json", "2025-02-18T0521.json"]
    assert all("recent median is 21" in flagged[n] for n in short)
    assert len(flagged) == 4


def test_every_capture_is_archived_as_fetched(captures, replay) -> None:
    root, _reports = replay
    archive = {p.name for p in (root / "out" / "archive").rglob("*.gz")}
    assert archive == {hashlib.sha256(p.read_bytes()).hexdigest() + ".gz" for p in captures}


def test_rss_copies_of_the_same_captures_add_no_paper(replay) -> None:
    root, _reports = replay
    rss = sorted(FEEDS.glob("*.xml"))
    assert rss, f"{FEEDS}: no RSS captures"
    with Store(f"sqlite:///{root / 'state.db'}") as store:
        before = store.paper_count()
        for path in rss:
            when = captured_at(path)
            report = ingest_capture(store, Capture(source=f"{SOURCE}-rss", captured=when, data=path.read_bytes()),
                                    output_dir=root / "out", now=when)
            assert report.error is None and report.papers > 0 and report.new == 0, (path.name, report)
        assert store.paper_count() == before
