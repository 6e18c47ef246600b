"""A paper's life in the store, read back: its sightings (for momentum), and everything
``paperdigest show`` tells an operator (fields with their source and time, the captures that
listed it, the digests that held it and the readers they went to)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperdigest.models import fold_title, normalize_arxiv_id
from paperdigest.store.base import StoreBase
from paperdigest.store.rows import aware, chunks, matches_from_json
from paperdigest.store.schema import (deliveries, digest_items, digests, paper_updates, papers, profile_state,
                                      sightings, snapshots)

_READINGS = (sa.select(sightings.c.paper_id, snapshots.c.ingested_at, sightings.c.upvotes)
             .select_from(sightings.join(snapshots, snapshots.c.id == sightings.c.snapshot_id))
             .where(sightings.c.paper_id.in_(sa.bindparam("ids", expanding=True)))
             .order_by(sightings.c.paper_id, snapshots.c.ingested_at, snapshots.c.id))


class PaperLifeStore(StoreBase):
    """Sightings and the record of one paper."""

    def readings(self, paper_ids: Sequence[int], *, until: datetime | None = None
                 ) -> dict[int, list[tuple[datetime, int | None]]]:
        """Per paper, every (time a capture listed it, the upvotes it gave), oldest first."""
        out: dict[int, list[tuple[datetime, int | None]]] = {}
        with self._read() as conn:
            for chunk in chunks(sorted(set(paper_ids)), 500):
                for pid, at, upvotes in conn.execute(_READINGS, {"ids": list(chunk)}):
                    when = aware(at)
                    if when is not None and (until is None or when <= until):
                        out.setdefault(pid, []).append((when, upvotes))
        return out

    def find_papers(self, ident: str) -> list[int]:
        """Paper ids for an arXiv id (or a URL holding one), a paper uid, or an exact title
        (compared folded: case, accents and punctuation aside)."""
        text = ident.strip()
        with self._read() as conn:
            found = conn.execute(sa.select(papers.c.id).where(papers.c.uid == text)).scalars().all()
            if found:
                return list(found)
            arxiv = normalize_arxiv_id(text)
            if arxiv:
                found = conn.execute(sa.select(papers.c.id).where(papers.c.arxiv_id == arxiv)).scalars().all()
                if found:
                    return list(found)
            key = fold_title(text)
            if not key:
                return []
            q = sa.select(papers.c.id).where(papers.c.title_key == key).order_by(papers.c.id)
            return list(conn.execute(q).scalars().all())

    def paper_record(self, paper_id: int) -> dict[str, Any]:
        """Everything stored about one paper, as plain values (datetimes aware, UTC)."""
        with self._read() as conn:
            row = conn.execute(sa.select(papers).where(papers.c.id == paper_id)).one()
            first = conn.execute(sa.select(snapshots).where(snapshots.c.id == row.first_snapshot_id)).first()
            changes = conn.execute(
                sa.select(paper_updates.c.field, paper_updates.c.changed_at, paper_updates.c.previous,
                          paper_updates.c.snapshot_id, snapshots.c.source)
                .select_from(paper_updates.join(snapshots, snapshots.c.id == paper_updates.c.snapshot_id))
                .where(paper_updates.c.paper_id == paper_id).order_by(paper_updates.c.id)).all()
            seen = conn.execute(
                sa.select(snapshots.c.id, snapshots.c.source, snapshots.c.format, snapshots.c.ingested_at,
                          snapshots.c.captured_at, sightings.c.upvotes)
                .select_from(sightings.join(snapshots, snapshots.c.id == sightings.c.snapshot_id))
                .where(sightings.c.paper_id == paper_id).order_by(snapshots.c.ingested_at, snapshots.c.id)).all()
            items = conn.execute(
                sa.select(digests.c.id, digests.c.digest_key, digests.c.profile, digests.c.date,
                          digest_items.c.position, digest_items.c.score, digest_items.c.matches, digest_items.c.momentum,
                          digest_items.c.added_at)
                .select_from(digest_items.join(digests, digests.c.id == digest_items.c.digest_id))
                .where(digest_items.c.paper_id == paper_id).order_by(digest_items.c.added_at, digests.c.id)).all()
            sent = conn.execute(
                sa.select(deliveries.c.digest_id, deliveries.c.recipient, deliveries.c.status, deliveries.c.channel,
                          deliveries.c.sent_at, deliveries.c.attempts, deliveries.c.last_error)
                .where(deliveries.c.digest_id.in_([i.id for i in items] or [-1])).order_by(deliveries.c.id)).all()
            cursors = {r.profile: int(r.cursor)
                       for r in conn.execute(sa.select(profile_state.c.profile, profile_state.c.cursor))}
        return {
            "row": row,
            "first": first,
            "changes": [{"field": c.field, "at": aware(c.changed_at), "previous": c.previous,
                         "snapshot": c.snapshot_id, "source": c.source} for c in changes],
            "sightings": [{"snapshot": s.id, "source": s.source, "format": s.format, "seen_at": aware(s.ingested_at),
                           "captured_at": aware(s.captured_at), "upvotes": s.upvotes} for s in seen],
            "digests": [{"digest": i.digest_key, "profile": i.profile, "date": i.date, "position": i.position + 1,
                         "score": float(i.score), "matches": matches_from_json(i.matches),
                         "momentum": i.momentum, "added_at": aware(i.added_at),
                         "deliveries": [{"to": d.recipient, "status": d.status, "channel": d.channel,
                                         "sent_at": aware(d.sent_at), "attempts": d.attempts, "error": d.last_error}
                                        for d in sent if d.digest_id == i.id]}
                        for i in items],
            "cursors": cursors,
        }
