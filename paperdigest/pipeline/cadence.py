"""When a profile's digest is made: every run for a daily profile; once a week for a weekly one.

A weekly profile's week starts on its ``week_day`` (in the schedule's time zone). Its digest is
made by the first run on or after that day that finds no digest of the profile dated in the
week; a run later in the week (an operator's manual run, a second scheduled run) makes none,
and a run missed on ``week_day`` is made up by the next one. The papers it lists are those
first seen since its previous digest (the profile's cursor, as for a daily digest), so each
paper still goes out once. A new weekly profile gets its first digest at its first run.
"""

from __future__ import annotations

from datetime import date, timedelta

from paperdigest.config import Profile
from paperdigest.config.model import WEEK_DAYS


def week_start(profile: Profile, day: date) -> date | None:
    """The first day of the week ``day`` is in, for a weekly profile; None for a daily one."""
    if profile.digest != "weekly":
        return None
    return day - timedelta(days=(day.weekday() - WEEK_DAYS.index(profile.week_day)) % 7)
