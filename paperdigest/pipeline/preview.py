"""``paperdigest preview``: the next digest of one profile, rendered, with nothing recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from paperdigest.config import Config, Profile
from paperdigest.models import DigestView, FeedEntry
from paperdigest.pipeline import digest_day, schedule_zone, select_for_profile, term_stats
from paperdigest.pipeline.meaning import MeaningSource
from paperdigest.store import Store


def preview_digest(config: Config, profile: Profile, fmt: str, now: datetime) -> str:
    """Rank what the profile has not seen yet, exactly as the next run would, and render it."""
    from paperdigest.delivery.render import check_templates, render_html, render_markdown, render_text

    check_templates(config.templates)
    with Store(config.store_url) as store:
        sel = select_for_profile(store, profile, term_stats(store, save=False), now=now, tz=schedule_zone(config),
                                 meaning=MeaningSource(config, store, save=False))
    chosen = sel.chosen
    day = digest_day(config, now)
    view = DigestView(digest_id=f"{profile.name}/{day.isoformat()}-preview", profile_name=profile.name,
                      profile_title=profile.title, date=day, created=now, new_papers=len(sel.candidates),
                      matched=sel.matched, items=tuple(chosen))
    if fmt == "md":
        return render_markdown(view, config.templates)
    if fmt == "text":
        return render_text(view, config.templates)
    if fmt == "html":
        return render_html(view, config.templates)
    from paperdigest.delivery.feeds import render_feed
    from paperdigest.store import paper_uid

    entries = [FeedEntry(guid=f"{profile.name}/{paper_uid(it.paper)}", paper=it.paper, added=now,
                         score=it.score, matches=it.matches, sightings=it.sightings) for it in chosen]
    base = config.feed.base_url.rstrip("/") + "/"
    return render_feed(entries, kind="rss", feed_id=f"urn:paperdigest:feed:{profile.name}",
                       title=f"paperdigest: {profile.title} (preview)", link=base,
                       self_url=f"{base}feeds/{profile.name}.xml",
                       description="What the next digest would hold", updated=now,
                       templates=config.templates).decode("utf-8")


def preview_recent(store: Store, profiles: Sequence[Profile], stats: Any, *, now: datetime, days: int = 7,
                   meaning: MeaningSource | None = None) -> list[DigestView]:
    """What each profile would have sent over the last ``days`` days, as one digest each: the
    papers first seen since then (read once for all), ranked and cut as a digest is (the
    subscribe page shows it); by meaning too, given ``meaning``."""
    from paperdigest.ranking import rank_profiles, select

    start = store.first_paper_seen_since(now - timedelta(days=days))
    found = store.papers_after(start)
    candidates = [p for _, p in found]
    ranked: dict[str, Any] = {}
    if candidates and profiles:
        vectors = meaning.for_papers(profiles, candidates, [pid for pid, _ in found]) if meaning else None
        ranked = rank_profiles(candidates, profiles, stats, meaning=vectors)
    views = []
    for profile in profiles:
        items = ranked[profile.name].items if profile.name in ranked else []
        views.append(DigestView(
            digest_id=f"{profile.name}/last-{days}-days", profile_name=profile.name, profile_title=profile.title,
            date=now.date(), created=now, new_papers=len(candidates),
            matched=sum(1 for it in items if it.score >= profile.min_score), items=tuple(select(items, profile))))
    return views
