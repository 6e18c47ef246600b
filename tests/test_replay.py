"""Replay the sixty real captures of ../shared/feeds/hf-papers through ingest, in capture order,
as one live source would have delivered them, into one SQLite store."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from paperdigest.models import normalize_arxiv_id
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


def test_every_capture_counts_exactly_its_unseen_papers_new(captures, replay) -> None:
    """Each capture's ``new`` is the number of its ids no earlier capture held, read from the
    files themselves (the sentinel item of the broken capture is not a paper)."""
    _root, reports = replay
    seen: set[str] = set()
    expected: list[int] = []
    for path in captures:
        ids = {normalize_arxiv_id(item["id"]) for item in json.loads(path.read_bytes())["items"]} - {None}
        expected.append(len(ids - seen))
        seen |= ids  # type: ignore[arg-type]
    assert [r.new for r in reports] == expected
    # The feed gives every paper the same title, abstract, link and date each time: nothing to update.
    assert [r.updated for r in reports] == [0] * len(reports)
    assert [r.papers for r in reports] == [
        len([i for i in json.loads(p.read_bytes())["items"] if normalize_arxiv_id(i["id"])]) for p in captures]


# --------------------------------------------------------------------------- invented captures

# Invented papers, some listed before their abstract exists. Each plan is the content_text a
# paper has in each of the captures (None: not listed; "": listed without it; "*": with it).
PLANS: dict[str, list[str | None]] = {
    "from the start": ["*", "*", None, "*", None, None, "*", None],
    "one capture late": ["", "*", "*", None, None, "*", None, None],
    "three captures late": ["", "", None, "", "*", "*", None, None],
    "never": ["", "", "", None, "", None, None, ""],
    "listed once, never": [None, None, None, None, None, "", None, None],
    "filled, then empty again": [None, "", "*", "", "", None, None, None],
    "away, back with it": [None, "", None, None, None, None, "*", None],
    "last capture only": [None, None, None, None, None, None, None, ""],
    "late and whitespace": [None, None, "   ", "\n", None, "*", "*", "*"],
}
TOPICS = ["tidal kelp canopies", "glacier melt sensors", "urban bat acoustics", "orchard frost drones",
          "lichen growth rates", "sand dune migration", "coral spawning timers", "moss carbon uptake",
          "river delta sediment"]


def _invented(k: int, name: str) -> tuple[str, str, str]:
    """(id, title, abstract) of the k-th invented paper."""
    arxiv = f"2607.{k + 101:05d}"
    topic = TOPICS[k]
    title = f"Counting {topic.title()}: An Invented Study ({name})"
    abstract = (f"We study {topic} with a small invented instrument. Over one season the method tracks "
                f"{topic} at a tenth of the usual cost, and its errors stay below five percent.")
    return arxiv, title, abstract


def _capture(n: int) -> bytes:
    items = []
    for k, (name, plan) in enumerate(PLANS.items()):
        text = plan[n]
        if text is None:
            continue
        arxiv, title, abstract = _invented(k, name)
        item: dict[str, str] = {"id": f"https://huggingface.co/papers/{arxiv}", "url": f"https://huggingface.co/papers/{arxiv}",
                                "title": title, "date_published": "2026-06-01T06:00:00Z"}
        if text == "*":
            item["content_text"] = abstract
        elif text or k % 2:  # some items say "" outright, others leave the field out
            item["content_text"] = text
        items.append(item)
    return json.dumps({"version": "https://jsonfeed.org/version/1", "title": "Invented papers",
                       "items": items}).encode()


def test_papers_listed_before_their_abstract_are_never_dropped(tmp_path: Path) -> None:
    captures = len(next(iter(PLANS.values())))
    seen: set[str] = set()
    with Store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        for n in range(captures):
            when = datetime(2026, 6, n + 1, 7, 0, tzinfo=timezone.utc)
            data = _capture(n)
            ids = {normalize_arxiv_id(i["id"]) for i in json.loads(data)["items"]}
            report = ingest_capture(store, Capture(source="invented", captured=when, data=data),
                                    output_dir=tmp_path / "out", now=when)
            assert report.error is None, report.error  # nothing skipped, nothing reported as a problem
            assert (report.papers, report.new) == (len(ids), len(ids - seen)), n
            arrived = [name for name, plan in PLANS.items() if plan[n] == "*"
                       and any(p == "" or (p is not None and not p.strip()) for p in plan[:n])
                       and "*" not in plan[:n]]
            assert report.updated == len(arrived), (n, arrived)  # an abstract filled in is an update, not new
            seen |= ids  # type: ignore[arg-type]
        stored = {p.arxiv_id: p for _, p in store.papers_after(0)}
    assert len(stored) == len(PLANS)
    for k, (name, plan) in enumerate(PLANS.items()):
        arxiv, title, abstract = _invented(k, name)
        assert stored[arxiv].title == title
        assert stored[arxiv].abstract == (abstract if "*" in plan else ""), name
