"""The web subscribers' part of a run: their personal profiles ranked into digests, and, when a
reader's hour has come in their time zone, what is owed to them queued as ordinary deliveries
(step 4 then sends them with everything else, through the same claim / mark-sent path).

Also the clock arithmetic a schedule needs, in one place: a reader's next send time, the
config schedule's default hour, and whether the config's cron has fired since a profile's last
digest (runs made hourly, ``scheduled``, make each profile's digest at the cron's pace only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from paperdigest.config import Config, Profile, ScheduleConfig
from paperdigest.errors import PaperdigestError
from paperdigest.pipeline.digests import build_profile_digest, schedule_zone
from paperdigest.pipeline.meaning import MeaningSource
from paperdigest.store import DigestRecord, ReaderSettings, Store, Subscriber

log = logging.getLogger("paperdigest")

PERSONAL_TITLE = "Your personal digest"
PERSONAL_MAX_ITEMS = 20


def next_send_time(timezone: str, hour: int, after: datetime) -> datetime:
    """The first ``hour``:00 in ``timezone`` strictly after ``after`` (aware, UTC).

    Wall-clock arithmetic: across a DST change the hour stays the reader's local hour (an hour
    that does not exist that day is taken as the same wall time in the new offset)."""
    tz = ZoneInfo(timezone)
    local = after.astimezone(tz)
    day = local.date()
    for _ in range(3):
        candidate = datetime.combine(day, time(hour), tzinfo=tz)
        if candidate > after:
            return candidate.astimezone(ZoneInfo("UTC"))
        day += timedelta(days=1)
    raise AssertionError("unreachable: three days hold a later hour")


def default_send_hour(schedule: ScheduleConfig) -> int:
    """The hour of the day the config's cron first fires (its timezone): a reader who does not
    choose gets their email when the config's recipients do."""
    from cronsim import CronSim

    tz = ZoneInfo(schedule.timezone)
    midnight = datetime.combine(date(2026, 1, 5), time(0), tzinfo=tz) - timedelta(seconds=1)
    return next(CronSim(schedule.cron, midnight)).hour


def digest_due(schedule: ScheduleConfig, last: datetime | None, now: datetime) -> bool:
    """True when the config's cron has fired after ``last`` (a profile's latest digest), up to ``now``."""
    if last is None:
        return True
    from cronsim import CronSim

    fired = next(CronSim(schedule.cron, last.astimezone(ZoneInfo(schedule.timezone))))
    return fired <= now


def liked_ids(sub: Subscriber) -> tuple[str, ...]:
    """The papers a reader marked "more like this": arXiv ids, else titles."""
    return tuple(p.arxiv_id or p.title for p in sub.liked)


def settings_profile(name: str, settings: ReaderSettings, liked: tuple[str, ...] = ()) -> Profile:
    """A reader's settings as an ordinary profile: their keywords (weight 1 each), their
    description and liked papers (for the ranking by meaning), no recipients (deliveries are
    queued at the reader's hour)."""
    return Profile(name=name, title=PERSONAL_TITLE, keywords={k: 1.0 for k in settings.keywords}, min_score=0.0,
                   max_items=PERSONAL_MAX_ITEMS, description=settings.description, liked=liked)


def personal_profile(sub: Subscriber) -> Profile:
    """A reader's personal profile, as the runs rank it (see :func:`settings_profile`)."""
    return settings_profile(sub.personal_profile, sub.settings, liked_ids(sub))


def personal_profiles(store: Store) -> list[Profile]:
    return [personal_profile(s) for s in store.active_subscribers() if s.settings.personal]


def build_personal_digests(store: Store, config: Config, stats: Any, *, now: datetime, day: date,
                           warnings: Sequence[str] = (), scheduled: bool = False,
                           meaning: MeaningSource | None = None) -> dict[str, DigestRecord | None]:
    """Each active reader's personal digest, as a config profile's is made. One reader's failure
    is logged and the others go on."""
    out: dict[str, DigestRecord | None] = {}
    zone = schedule_zone(config)  # days of sightings counted as for the config's profiles
    meaning = meaning or MeaningSource(config, store)
    for profile in personal_profiles(store):
        if scheduled and not digest_due(config.schedule, store.last_digest_at(profile.name), now):
            continue
        try:
            out[profile.name] = build_profile_digest(store, profile, stats, now=now, day=day, warnings=warnings,
                                                     tz=zone, meaning=meaning)
        except PaperdigestError as e:
            log.error('personal profile "%s": %s', profile.name, e)
    return out


def queue_due(store: Store, config: Config, *, now: datetime) -> int:
    """For every reader whose hour has come: owe them what their profiles made since they were
    last served, and set their next hour. Returns how many deliveries were queued."""
    send_empty = [p.name for p in config.profiles if p.send_empty]
    queued = 0
    for sid, expected, zone, hour in store.due_subscribers(now):
        following = next_send_time(zone, hour, now)
        n = store.queue_owed(sid, expected=expected, following=following, now=now, send_empty=send_empty)
        queued += n or 0
    return queued
