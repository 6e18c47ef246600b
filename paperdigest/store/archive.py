"""Read-only views of past digests for the web app: the list of a profile's digests, one digest
by its key, the store ids of a digest's papers (for feedback links), and a cheap stamp that
changes whenever a feed's content does (so a served feed is rendered only when it changed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from paperdigest.store.base import StoreBase
from paperdigest.store.rows import aware, utc
from paperdigest.store.schema import digest_items, digests, papers


@dataclass(frozen=True)
class DigestSummary:
    id: int
    key: str
    date: date
    created: datetime
    items: int


class ArchiveStore(StoreBase):
    """Past digests, as pages and feeds show them."""

    def digests_of(self, profile: str, *, limit: int = 100) -> list[DigestSummary]:
        """The profile's digests that hold papers, newest first."""
        n_items = sa.func.count(digest_items.c.id)
        with self._read() as conn:
            rows = conn.execute(
                sa.select(digests.c.id, digests.c.digest_key, digests.c.date, digests.c.created_at, n_items)
                .select_from(digests.join(digest_items, digest_items.c.digest_id == digests.c.id))
                .where(digests.c.profile == profile)
                .group_by(digests.c.id, digests.c.digest_key, digests.c.date, digests.c.created_at)
                .order_by(digests.c.id.desc()).limit(limit)).all()
        return [DigestSummary(int(r[0]), r[1], r[2], aware(r[3]) or datetime.min, int(r[4])) for r in rows]

    def digest_id_by_key(self, key: str) -> int | None:
        with self._read() as conn:
            return conn.execute(sa.select(digests.c.id).where(digests.c.digest_key == key)).scalar_one_or_none()

    def digest_paper_ids(self, digest_id: int) -> list[int]:
        """The store ids of a digest's papers, in the digest's order (its items' order)."""
        with self._read() as conn:
            return [int(r[0]) for r in conn.execute(
                sa.select(digest_items.c.paper_id).where(digest_items.c.digest_id == digest_id)
                .order_by(digest_items.c.position))]

    def feed_stamp(self, profile: str, since: datetime) -> tuple[int, int, datetime | None]:
        """(newest item id, item count, latest change of one of its papers) of a profile's feed
        window: equal stamps, equal feeds (a paper filled in later changes its entry)."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(digest_items.c.id), 0), sa.func.count(),
                          sa.func.max(papers.c.updated_at))
                .select_from(digest_items.join(papers, papers.c.id == digest_items.c.paper_id))
                .where(digest_items.c.profile == profile, digest_items.c.added_at >= utc(since))).one()
        return int(row[0]), int(row[1]), aware(row[2])

    def last_digest_at(self, profile: str) -> datetime | None:
        """When the profile's latest digest was made (None: never)."""
        with self._read() as conn:
            value = conn.execute(sa.select(sa.func.max(digests.c.created_at))
                                 .where(digests.c.profile == profile)).scalar_one_or_none()
        return aware(value)
