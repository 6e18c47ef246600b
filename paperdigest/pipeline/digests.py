"""Steps 2, 3 and 5 of a run: rank each profile's unseen papers into a digest (recorded with its
cursor move in one transaction), write pending Markdown, rewrite the feeds from the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from paperdigest import files
from paperdigest.config import Config, Profile
from paperdigest.models import Paper
from paperdigest.pipeline import failpoints
from paperdigest.pipeline.cadence import week_start
from paperdigest.store import DigestRecord, Store

if TYPE_CHECKING:
    from paperdigest.pipeline.meaning import MeaningSource

TERM_STATS_BLOB = "term_stats"


# --------------------------------------------------------------------------- ranking


def term_stats(store: Store, *, save: bool = True) -> Any:
    """IDF statistics over the whole store, brought up to date incrementally (new papers only;
    all of them again when the stored statistics come from an older text analysis).

    ``save=False`` (previews) computes the same statistics without writing them back.
    """
    from paperdigest.ranking import TermStats

    saved = store.load_blob(TERM_STATS_BLOB)
    stats, upto = (TermStats.from_json(saved[0]), saved[1]) if saved else (TermStats(), 0)
    if not stats.current:  # made by an older text analysis: count every paper again
        stats, upto = TermStats(), 0
    fresh = store.papers_after(upto)
    if fresh:
        stats.add(p for _, p in fresh)
        if save:
            store.save_blob(TERM_STATS_BLOB, stats.to_json(), fresh[-1][0])
    return stats


def digest_day(config: Config, now: datetime) -> date:
    return now.astimezone(ZoneInfo(config.schedule.timezone)).date()


def schedule_zone(config: Config) -> tzinfo:
    """The time zone digests are dated in, and a paper's days listed are counted in."""
    return ZoneInfo(config.schedule.timezone)


@dataclass
class Selection:
    """What a profile's next digest holds: the papers it has not considered, ranked and cut."""

    cursor: int | None  # the profile's cursor as read (None: a new profile)
    candidates: list[tuple[int, Paper]]  # (paper id, paper), oldest first
    chosen: list[Any]  # RankedItem, after min_score and max_items
    matched: int  # how many passed the filters before max_items
    new_cursor: int


def select_for_profile(store: Store, profile: Profile, stats: Any, *, now: datetime, tz: tzinfo,
                       meaning: MeaningSource | None = None) -> Selection:
    """Rank the papers this profile has not considered yet (read only: ``run`` and ``preview``),
    by keywords and, given ``meaning`` and a profile with a description or liked papers, by
    meaning too; each with its sightings up to ``now`` (days counted in ``tz``), blended with
    momentum as the profile asks.

    A new profile starts with the papers first seen in the last ``backfill_days``.
    """
    from paperdigest.ranking import rank_profiles, select
    from paperdigest.ranking.momentum import summarize, with_momentum

    cursor = store.profile_cursor(profile.name)
    start = cursor if cursor is not None else store.first_paper_seen_since(now - timedelta(days=profile.backfill_days))
    candidates = store.papers_after(start)
    papers = [p for _, p in candidates]
    ranked = []
    if papers:
        vectors = meaning.for_papers([profile], papers, [pid for pid, _ in candidates]) if meaning else None
        ranked = rank_profiles(papers, [profile], stats, meaning=vectors)[profile.name].items
    # Without momentum the sightings only annotate what is shown; with it, they reorder every item.
    shown = ranked if profile.momentum > 0 else select(ranked, profile)
    chosen = shown
    if shown:
        ids = {id(p): pid for pid, p in candidates}
        readings = store.readings([ids[id(it.paper)] for it in shown], until=now)
        today = now.astimezone(tz).date()
        seen = {i: summarize(readings.get(ids[id(it.paper)], ()), tz, today) for i, it in enumerate(shown)}
        chosen = with_momentum(shown, seen, profile.momentum)
        if profile.momentum > 0:
            chosen = select(chosen, profile)
    return Selection(cursor=cursor, candidates=candidates, chosen=chosen,
                     matched=sum(1 for it in ranked if it.score >= profile.min_score),
                     new_cursor=candidates[-1][0] if candidates else start)


def build_profile_digest(store: Store, profile: Profile, stats: Any, *, now: datetime, day: date,
                         tz: tzinfo, warnings: Sequence[str] = (),
                         meaning: MeaningSource | None = None) -> DigestRecord | None:
    """Record the profile's next digest and move its cursor, in one transaction.

    Papers ranked below ``min_score`` or beyond ``max_items`` are considered and not offered
    again. Returns None when a concurrent run already took these papers, or when a weekly
    profile's digest is not due (see :mod:`paperdigest.pipeline.cadence`).
    """
    week = week_start(profile, day)
    if week is not None and store.has_digest_since(profile.name, week):
        return None  # this week's digest is made: nothing to rank
    sel = select_for_profile(store, profile, stats, now=now, tz=tz, meaning=meaning)
    ids = {id(p): pid for pid, p in sel.candidates}
    failpoints.failpoint("before-digest")
    return store.create_digest(
        profile=profile.name, profile_title=profile.title, expected_cursor=sel.cursor, new_cursor=sel.new_cursor,
        day=day, now=now, new_papers=len(sel.candidates), matched=sel.matched,
        items=[(ids[id(it.paper)], it) for it in sel.chosen],
        recipients=profile.recipients if (sel.chosen or profile.send_empty) else (),
        warnings=warnings, none_since=week)


# --------------------------------------------------------------------------- rendering


def write_markdown(store: Store, digest_id: int, output_dir: Path, templates: Path | None = None) -> Path:
    """Render a digest's Markdown from the store and write it atomically (idempotent)."""
    from paperdigest.delivery.render import render_markdown

    view = store.digest_view(digest_id)
    path = files.markdown_path(output_dir, view.digest_id)
    files.atomic_write(path, render_markdown(view, templates))
    failpoints.failpoint("after-markdown-write")  # written but not yet marked: the next run rewrites it
    store.set_markdown_path(digest_id, str(path))
    return path


def write_pending_markdown(store: Store, output_dir: Path, templates: Path | None = None) -> list[Path]:
    failpoints.failpoint("before-markdown")  # digests recorded, no file yet
    return [write_markdown(store, d, output_dir, templates) for d in store.digests_without_markdown()]


def feed_texts(profile: Profile) -> tuple[str, str]:
    """A profile feed's title and description (the files a run writes and the feeds the web app serves)."""
    return f"paperdigest: {profile.title}", f"Papers matching the profile {profile.title!r}"


def publish_feeds(store: Store, config: Config, now: datetime) -> dict[str, dict[str, Path]]:
    """Rewrite every feed from the store: per profile, plus ``all`` (every new paper, unfiltered)."""
    from paperdigest.delivery.feeds import render_feed

    failpoints.failpoint("before-feeds")
    since = now - timedelta(days=config.feed.max_days)
    base = config.feed.base_url.rstrip("/") + "/"
    out: dict[str, dict[str, Path]] = {}
    targets: list[tuple[str, str, str, Callable[[], Sequence[Any]]]] = [
        (p.name, *feed_texts(p), partial(store.feed_entries, p.name, max_items=config.feed.max_items, since=since))
        for p in config.profiles]
    targets.append(("all", "paperdigest: all new papers", "Every new paper, unfiltered",
                    lambda: store.recent_papers(max_items=config.feed.max_items, since=since)))
    for name, title, description, entries_of in targets:
        entries = entries_of()
        updated = max((e.last_change for e in entries), default=now)
        out[name] = {}
        for kind in ("rss", "atom"):
            path = files.feed_path(config.output_dir, name, kind)
            data = render_feed(entries, kind=kind, feed_id=f"urn:paperdigest:feed:{name}", title=title,
                               link=base, self_url=f"{base}feeds/{path.name}", description=description,
                               updated=updated, templates=config.templates)
            files.atomic_write(path, data)
            failpoints.failpoint("mid-feeds")  # one feed file rewritten, the others not yet
            out[name][kind] = path
    return out
