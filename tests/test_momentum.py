"""Momentum: the sightings a reader is shown, the normalised momentum, and its blend into a
profile's order (which ``momentum = 0`` must leave exactly as the keywords made it)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperdigest.config import Profile
from paperdigest.models import Listing, Match, Paper, RankedItem, Sightings
from paperdigest.pipeline import select_for_profile, term_stats
from paperdigest.ranking import rank
from paperdigest.ranking.momentum import momentum_scores, summarize, with_momentum
from paperdigest.store import Store

UTC = timezone.utc
T0 = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
DAY = timedelta(days=1)


# --------------------------------------------------------------------------- what a reader is shown


def test_days_are_counted_in_the_schedules_time_zone() -> None:
    late, early = datetime(2026, 6, 1, 23, 30, tzinfo=UTC), datetime(2026, 6, 2, 0, 30, tzinfo=UTC)
    assert summarize([(late, None), (early, None)], UTC).days == 2  # type: ignore[union-attr]
    assert summarize([(late, None), (early, None)], ZoneInfo("America/New_York")).days == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("readings, today, shown", [
    ([(T0, None)], None, "listed 1 day"),
    ([(T0, None), (T0 + DAY, None)], None, "listed 2 days"),  # a JSON Feed: no upvotes, none invented
    ([(T0, 7)], None, "listed 1 day · ▲ 7"),
    ([(T0, 7), (T0 + timedelta(hours=6), 12)], None, "listed 1 day · ▲ 12 (+5 since first seen)"),
    ([(T0, 75), (T0 + DAY, 80), (T0 + DAY + timedelta(hours=5), 120)], None,
     "listed 2 days · ▲ 120 (+45 since yesterday)"),  # from the day before's last reading
    ([(T0, 75), (T0 + DAY, 120), (T0 + DAY, None)], date(2026, 6, 2), "listed 2 days · ▲ 120 (+45 since yesterday)"),
    ([(T0, 75), (T0 + 2 * DAY, 120)], None, "listed 2 days · ▲ 120 (+45 since Jun 1)"),
    ([(T0, 75), (T0 + DAY, 120)], date(2026, 6, 5), "listed 2 days · ▲ 120 (+45 since Jun 1)"),  # a weekly digest
    ([(T0, 50), (T0 + DAY, 47)], None, "listed 2 days · ▲ 47 (−3 since yesterday)"),
])
def test_sightings_describe_what_is_known(readings, today, shown) -> None:
    s = summarize(readings, UTC, today)
    assert s is not None and s.describe() == shown
    assert (s.first_seen, s.last_seen, s.captures) == (readings[0][0], readings[-1][0], len(readings))


def test_no_sightings_no_summary() -> None:
    assert summarize([], UTC) is None


# --------------------------------------------------------------------------- momentum


def _seen(upvotes: int | None = None, gain: int | None = None, days: int = 1) -> Sightings:
    return Sightings(first_seen=T0, last_seen=T0, captures=days, days=days, upvotes=upvotes, gain=gain,
                     since="yesterday" if gain is not None else None)


def test_momentum_is_the_mean_of_the_parts_any_paper_shows() -> None:
    # Only days listed vary (a JSON Feed): momentum is staying power alone.
    assert momentum_scores([_seen(days=1), _seen(days=3), _seen(days=5)]) == [0.0, 0.5, 1.0]
    # Nothing varies, nothing is known: no paper gets momentum for what none could have.
    assert momentum_scores([_seen(), _seen(), None]) == [0.0, 0.0, 0.0]
    # Upvotes (log scale) and gains, both against the best paper; losses count as none.
    m = momentum_scores([_seen(upvotes=0), _seen(upvotes=9, gain=-2), _seen(upvotes=99, gain=9)])
    assert m[0] == 0.0 and m[2] == 1.0
    assert m[1] == pytest.approx((0.5 + 0.0) / 2)  # ln 10 / ln 100 = 0.5, no gain
    assert all(0.0 <= x <= 1.0 for x in m)


def _items(n: int, seed: int) -> list[RankedItem]:
    rng = random.Random(seed)
    scores = sorted((round(rng.uniform(0.5, 9), 1) for _ in range(n)), reverse=True)
    return [RankedItem(Paper(title=f"Paper {i}"), s, (Match("kw", "title", s),)) for i, s in enumerate(scores)]


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 30), st.integers(0, 10**6))
def test_momentum_zero_keeps_the_keyword_order_exactly(n: int, seed: int) -> None:
    items = _items(n, seed)
    rng = random.Random(seed)
    seen = {i: _seen(upvotes=rng.randrange(500), gain=rng.randrange(-5, 50), days=rng.randrange(1, 8))
            for i in range(n) if rng.random() < 0.8}
    out = with_momentum(items, seen, 0.0)
    assert [(it.paper, it.score, it.matches) for it in out] == [(it.paper, it.score, it.matches) for it in items]
    assert all(it.blend is None and it.why() == "kw (title, +%.2f)" % it.score for it in out)
    assert [it.sightings for it in out] == [seen.get(i) for i in range(n)]


def test_momentum_one_orders_by_momentum_and_says_so() -> None:
    items = _items(4, 1)
    seen = {0: _seen(upvotes=1), 1: _seen(upvotes=200), 2: _seen(upvotes=30), 3: _seen(upvotes=200)}
    out = with_momentum(items, seen, 1.0)
    assert [it.paper.title for it in out] == ["Paper 1", "Paper 3", "Paper 2", "Paper 0"]  # ties keep keyword order
    assert out[0].blend is not None and out[0].blend.value == 1.0
    assert "ranked on momentum 1.00 × 1 + relevance" in out[0].why()
    half = with_momentum(items, seen, 0.5)
    for it in half:
        assert it.blend is not None
        assert it.blend.value == pytest.approx(0.5 * it.score / items[0].score + 0.5 * it.blend.momentum)


# --------------------------------------------------------------------------- through the store


def _profile(momentum: float) -> Profile:
    return Profile(name=f"m{int(momentum * 10)}", title="M", keywords={"kelp": 1, "forest": 2}, max_items=50,
                   momentum=momentum)


def test_a_profile_without_momentum_ranks_as_the_keywords_do(tmp_path: Path) -> None:
    rng = random.Random(5)
    words = ["kelp", "forest", "drone", "census", "bay", "winter"]
    pool = [Paper(title=" ".join(rng.choice(words) for _ in range(rng.randrange(3, 8))).title() + f" {i}",
                  abstract=" ".join(rng.choice(words) for _ in range(rng.randrange(0, 30))),
                  arxiv_id=f"2606.{i:05d}") for i in range(40)]
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        for day in range(4):  # each day lists a random part of the pool, with upvotes growing
            listed = [Paper(p.title, p.abstract, arxiv_id=p.arxiv_id, upvotes=rng.randrange(0, 100) * (day + 1))
                      for p in rng.sample(pool, 25)]
            store.ingest(Listing(listed, format="hf-api"), source="api", hash_=f"{day:064d}", captured=None,
                         now=T0 + day * DAY)
        stats = term_stats(store, save=False)
        papers = [p for _, p in store.papers_after(0)]
        now = T0 + 4 * DAY
        plain = select_for_profile(store, _profile(0.0), stats, now=now, tz=timezone.utc)
        keyword_order = rank(papers, [_profile(0.0)], stats)["m0"]
        assert [(it.paper.title, it.score) for it in plain.chosen] == [(it.paper.title, it.score) for it in keyword_order]
        assert all(it.sightings is not None and it.blend is None for it in plain.chosen)
        blended = select_for_profile(store, _profile(0.7), stats, now=now, tz=timezone.utc)
    assert sorted(it.paper.title for it in blended.chosen) == sorted(it.paper.title for it in plain.chosen)
    assert [it.paper.title for it in blended.chosen] != [it.paper.title for it in plain.chosen]
    assert [it.blend.value for it in blended.chosen] == sorted((it.blend.value for it in blended.chosen), reverse=True)
