"""Digests: the profile cursor moved with the digest it makes (compare-and-set), the digest's
items and owed deliveries, and the views that re-render a digest or a feed from the store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

import sqlalchemy as sa

from paperdigest.models import DigestView, FeedEntry, RankedItem
from paperdigest.store.base import StoreBase
from paperdigest.store.rows import aware, matches_from_json, momentum_from_json, momentum_to_json, paper_from_row, utc
from paperdigest.store.schema import deliveries, digest_items, digests, papers, profile_state


@dataclass(frozen=True)
class DigestRecord:
    id: int
    key: str
    profile: str
    date: date
    markdown_path: str | None
    recipients: tuple[str, ...]



class DigestStore(StoreBase):
    """Digests and feeds."""

    # -- digests ----------------------------------------------------------------------

    def profile_cursor(self, profile: str) -> int | None:
        with self._read() as conn:
            return conn.execute(sa.select(profile_state.c.cursor)
                                .where(profile_state.c.profile == profile)).scalar_one_or_none()

    def create_digest(self, *, profile: str, profile_title: str, expected_cursor: int | None, new_cursor: int,
                      day: date, now: datetime, new_papers: int, matched: int, items: Sequence[tuple[int, RankedItem]],
                      recipients: Sequence[str], warnings: Sequence[str] = (),
                      none_since: date | None = None) -> DigestRecord | None:
        """Create a digest, its items and its owed deliveries, and move the profile's cursor.

        Returns None when another run moved the cursor first (it owns these papers), or, with
        ``none_since`` (a weekly profile's week start), when the profile already has a digest
        dated on or after it: checked in the same transaction, so two runs make one.
        """
        now = utc(now)
        with self._write() as conn:
            if none_since is not None and conn.execute(sa.select(digests.c.id).where(
                    digests.c.profile == profile, digests.c.date >= none_since).limit(1)).first() is not None:
                return None
            if expected_cursor is None:
                if conn.execute(sa.select(profile_state.c.cursor)
                                .where(profile_state.c.profile == profile)).first() is not None:
                    return None
                conn.execute(profile_state.insert().values(profile=profile, cursor=new_cursor, created_at=now))
            else:
                moved = conn.execute(profile_state.update().where(
                    profile_state.c.profile == profile, profile_state.c.cursor == expected_cursor
                ).values(cursor=new_cursor)).rowcount
                if moved != 1:
                    return None
            same_day = conn.execute(sa.select(sa.func.count()).select_from(digests).where(
                digests.c.profile == profile, digests.c.date == day)).scalar_one()
            key = f"{profile}/{day.isoformat()}" + (f"-{same_day + 1}" if same_day else "")
            digest_id = conn.execute(digests.insert().values(
                digest_key=key, profile=profile, profile_title=profile_title, date=day, created_at=now,
                new_papers=new_papers, matched=matched, warnings=json.dumps(list(warnings)),
            )).inserted_primary_key[0]  # type: ignore[index]
            if items:
                conn.execute(digest_items.insert(), [{
                    "digest_id": digest_id, "profile": profile, "paper_id": pid, "position": pos,
                    "score": item.score, "added_at": now, "momentum": momentum_to_json(item),
                    "matches": json.dumps([[m.term, m.where, m.contribution] for m in item.matches]),
                } for pos, (pid, item) in enumerate(items)])
            if recipients:
                conn.execute(deliveries.insert(), [
                    {"digest_id": digest_id, "recipient": r, "status": "pending", "attempts": 0}
                    for r in dict.fromkeys(recipients)])
        return DigestRecord(digest_id, key, profile, day, None, tuple(dict.fromkeys(recipients)))

    def has_digest_since(self, profile: str, day: date) -> bool:
        """Does the profile have a digest dated ``day`` or later (a weekly profile's week made)?"""
        with self._read() as conn:
            q = sa.select(digests.c.id).where(digests.c.profile == profile, digests.c.date >= day).limit(1)
            return conn.execute(q).first() is not None

    def set_markdown_path(self, digest_id: int, path: str) -> None:
        with self._write() as conn:
            conn.execute(digests.update().where(digests.c.id == digest_id).values(markdown_path=path))

    def digests_without_markdown(self) -> list[int]:
        with self._read() as conn:
            return [r[0] for r in conn.execute(sa.select(digests.c.id).where(digests.c.markdown_path.is_(None))
                                               .order_by(digests.c.id))]

    def digest_key(self, digest_id: int) -> str:
        with self._read() as conn:
            return str(conn.execute(sa.select(digests.c.digest_key).where(digests.c.id == digest_id)).scalar_one())

    def digest_view(self, digest_id: int) -> DigestView:
        """Rebuild a digest exactly as it was created (for rendering, re-rendering and resending)."""
        with self._read() as conn:
            d = conn.execute(sa.select(digests).where(digests.c.id == digest_id)).one()
            rows = conn.execute(
                sa.select(papers, digest_items.c.score, digest_items.c.matches, digest_items.c.momentum)
                .select_from(digest_items.join(papers, papers.c.id == digest_items.c.paper_id))
                .where(digest_items.c.digest_id == digest_id).order_by(digest_items.c.position)).all()
        items = tuple(RankedItem(paper_from_row(r), float(r.score), matches_from_json(r.matches),
                                 *momentum_from_json(r.momentum)) for r in rows)
        return DigestView(digest_id=d.digest_key, profile_name=d.profile, profile_title=d.profile_title,
                          date=d.date, created=aware(d.created_at) or datetime.now(timezone.utc),
                          new_papers=d.new_papers, matched=d.matched, items=items,
                          warnings=tuple(json.loads(d.warnings or "[]")))

    def feed_entries(self, profile: str, *, max_items: int, since: datetime) -> list[FeedEntry]:
        """The profile's rolling window: newest first, at most ``max_items``, none older than ``since``."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(papers, digest_items.c.score, digest_items.c.matches, digest_items.c.added_at,
                          digest_items.c.momentum)
                .select_from(digest_items.join(papers, papers.c.id == digest_items.c.paper_id))
                .where(digest_items.c.profile == profile, digest_items.c.added_at >= utc(since))
                .order_by(digest_items.c.added_at.desc(), digest_items.c.id.desc()).limit(max_items)).all()
        return [FeedEntry(guid=f"{profile}/{r.uid}", paper=paper_from_row(r), added=aware(r.added_at) or since,
                          score=float(r.score), matches=matches_from_json(r.matches), updated=aware(r.updated_at),
                          sightings=momentum_from_json(r.momentum)[0])
                for r in rows]

    def recent_papers(self, *, max_items: int, since: datetime) -> list[FeedEntry]:
        """The all-papers feed: every paper first seen in the window, unfiltered, newest first."""
        with self._read() as conn:
            rows = conn.execute(sa.select(papers).where(papers.c.first_seen >= utc(since))
                                .order_by(papers.c.id.desc()).limit(max_items)).all()
        return [FeedEntry(guid=f"all/{r.uid}", paper=paper_from_row(r), added=aware(r.first_seen) or since,
                          updated=aware(r.updated_at)) for r in rows]
