"""Momentum: what the listings say about a paper over time, shown with each digest item and,
when a profile asks for it, blended into the order of the items.

Kept apart from the keyword scoring (:mod:`paperdigest.ranking.lexical`): it works on items
already ranked, plus each paper's sightings, so any relevance score can be blended the same way.

A paper's momentum ``M`` (0..1) is the mean of the parts that the papers being ranked show at all:

* upvotes: ``ln(1 + U) / ln(1 + U_max)``, its latest upvote count against the most upvoted;
* gain: ``ln(1 + G) / ln(1 + G_max)``, upvotes gained since the day before (losses count as 0);
* staying power: ``(D - 1) / (D_max - 1)``, the distinct days it was listed, beyond the first.

A part is left out when no paper has it (a JSON Feed gives no upvotes; a daily digest's papers
are mostly listed one day), so ``M`` never rewards what nobody could have. A profile's
``momentum = w`` then orders its items by ``(1 - w) × score / best score + w × M``; ``w = 0``
keeps the keyword order exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta, tzinfo

from paperdigest.models import Blend, RankedItem, Sightings

Reading = tuple[datetime, int | None]  # (when a capture listed the paper, the upvotes it gave)


def summarize(readings: Sequence[Reading], tz: tzinfo, today: date | None = None) -> Sightings | None:
    """A paper's sightings, oldest first, as a reader is shown them; None when there are none.

    Days are calendar days in ``tz`` (the schedule's time zone). The gain runs from the last
    reading of a day before the latest reading's, else from the first reading of that day
    ("since first seen"). It says "since yesterday" when the latest reading is from ``today``
    (the digest's day; by default the latest reading's) and that earlier day is the day
    before, else names the day ("since Nov 27").
    """
    if not readings:
        return None
    days = {t.astimezone(tz).date() for t, _ in readings}
    votes = [(t.astimezone(tz).date(), u) for t, u in readings if u is not None]
    upvotes = gain = since = None
    if votes:
        last_day, upvotes = votes[-1]
        earlier = [(d, u) for d, u in votes if d < last_day]
        if earlier:
            base_day, base = earlier[-1]
            gain, since = upvotes - base, _day_label(base_day, last_day, today or last_day)
        elif len(votes) > 1:
            gain, since = upvotes - votes[0][1], "first seen"
    return Sightings(first_seen=readings[0][0], last_seen=readings[-1][0], captures=len(readings), days=len(days),
                     upvotes=upvotes, gain=gain, since=since)


def _day_label(day: date, last_day: date, today: date) -> str:
    return "yesterday" if last_day == today and day == today - timedelta(days=1) else f"{day:%b} {day.day}"


def momentum_scores(seen: Sequence[Sightings | None]) -> list[float]:
    """Each paper's momentum, 0..1, against the others in ``seen`` (see the module's docstring)."""
    ups = [(s.upvotes or 0) if s else 0 for s in seen]
    gains = [max(s.gain or 0, 0) if s else 0 for s in seen]
    days = [s.days if s else 1 for s in seen]
    parts: list[list[float]] = []
    if max(ups, default=0) > 0:
        top = math.log1p(max(ups))
        parts.append([math.log1p(u) / top for u in ups])
    if max(gains, default=0) > 0:
        top = math.log1p(max(gains))
        parts.append([math.log1p(g) / top for g in gains])
    if max(days, default=1) > 1:
        span = max(days) - 1
        parts.append([(d - 1) / span for d in days])
    if not parts:
        return [0.0] * len(seen)
    return [sum(p[i] for p in parts) / len(parts) for i in range(len(seen))]


def with_momentum(items: Sequence[RankedItem], seen: Mapping[int, Sightings | None], weight: float
                  ) -> list[RankedItem]:
    """The items with their sightings (``seen``: item index -> sightings) and, when ``weight`` > 0,
    reordered by the blend of relevance and momentum. Ties keep the keyword order."""
    found = [seen.get(i) for i in range(len(items))]
    if weight <= 0 or not items:
        return [replace(it, sightings=s) if s is not None else it for it, s in zip(items, found)]
    best = max(it.score for it in items) or 1.0
    blended: list[tuple[float, int, RankedItem]] = []
    for i, (it, s, m) in enumerate(zip(items, found, momentum_scores(found))):
        relevance = it.score / best
        value = (1 - weight) * relevance + weight * m
        blended.append((-value, i, replace(it, sightings=s, blend=Blend(weight, m, relevance, value))))
    blended.sort(key=lambda b: b[:2])
    return [b[2] for b in blended]


__all__ = ["Reading", "momentum_scores", "summarize", "with_momentum"]
