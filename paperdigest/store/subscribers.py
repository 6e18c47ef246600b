"""Readers who subscribed through the web app: their confirmation, their settings (the config's
profiles they chose, a personal profile, a send hour in a time zone), their feedback on papers,
and the queueing of what is owed to them when their hour comes.

A subscriber's deliveries are ordinary rows of ``deliveries`` (with ``subscriber_id`` set), so
the claim / mark-sent machinery of :mod:`paperdigest.store.deliveries` sends them exactly as it
sends the config's recipients: one row per (digest, address), sent once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperdigest.models import Paper
from paperdigest.store.base import StoreBase
from paperdigest.store.rows import aware, paper_from_row, utc
from paperdigest.store.schema import (deliveries, digest_items, digests, feedback, papers, profile_state,
                                      subscribers, subscriptions)

PERSONAL_PREFIX = "reader_"  # config profile names are [a-z0-9-]+, so these never collide

# When the next digests go out, for a time zone and an hour (pipeline.subscribers.next_send_time).
NextSend = Callable[[str, int], datetime]


def personal_profile_name(subscriber_id: int) -> str:
    return f"{PERSONAL_PREFIX}{subscriber_id}"


@dataclass(frozen=True)
class ReaderSettings:
    """What a reader chooses: the config's profiles, a personal profile, when to get email."""

    profiles: tuple[str, ...]
    timezone: str
    send_hour: int
    description: str = ""
    keywords: tuple[str, ...] = ()

    @property
    def personal(self) -> bool:
        return bool(self.description or self.keywords)

    def to_json(self) -> str:
        return json.dumps({"profiles": list(self.profiles), "timezone": self.timezone, "send_hour": self.send_hour,
                           "description": self.description, "keywords": list(self.keywords)})

    @classmethod
    def from_json(cls, text: str) -> ReaderSettings:
        d = json.loads(text)
        return cls(profiles=tuple(d["profiles"]), timezone=d["timezone"], send_hour=int(d["send_hour"]),
                   description=d.get("description", ""), keywords=tuple(d.get("keywords", ())))


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    status: str  # pending | active | unsubscribed
    settings: ReaderSettings
    feed_key: str
    next_send_at: datetime | None
    liked: tuple[Paper, ...] = field(default=())

    @property
    def personal_profile(self) -> str:
        return personal_profile_name(self.id)


class SubscriberStore(StoreBase):
    """Subscribers, their settings and feedback, and what is owed to them."""

    # -- subscribing --------------------------------------------------------------------

    def request_subscription(self, email: str, settings: ReaderSettings, *, nonce: str, now: datetime) -> int:
        """Remember what ``email`` asked for until the confirmation link with ``nonce`` is followed.

        A known address keeps its current settings until then (whoever typed it in may not own it).
        """
        now = utc(now)
        with self._write() as conn:
            row = conn.execute(sa.select(subscribers.c.id).where(subscribers.c.email == email)).first()
            if row is not None:
                conn.execute(subscribers.update().where(subscribers.c.id == row.id).values(
                    pending=settings.to_json(), pending_nonce=nonce))
                return int(row.id)
            return int(conn.execute(subscribers.insert().values(
                email=email, status="pending", created_at=now, timezone=settings.timezone,
                send_hour=settings.send_hour, description="", keywords="[]", feed_key=secrets.token_urlsafe(24),
                pending=settings.to_json(), pending_nonce=nonce)).inserted_primary_key[0])  # type: ignore[index]

    def confirm_subscription(self, subscriber_id: int, nonce: str, *, now: datetime, next_send: NextSend) -> str:
        """Apply the settings the link with ``nonce`` confirms. Returns ``confirmed``, ``already``
        (an active reader following an old link: nothing changes), ``stale`` (a newer request
        replaced it) or ``unknown``."""
        now = utc(now)
        with self._write() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.id == subscriber_id)).first()
            if row is None:
                return "unknown"
            if row.pending is None or row.pending_nonce != nonce:
                return "already" if row.status == "active" else "stale"
            settings = ReaderSettings.from_json(row.pending)
            if row.status != "active":  # (re)joining: nothing made before now is owed
                conn.execute(subscriptions.delete().where(subscriptions.c.subscriber_id == subscriber_id))
            conn.execute(subscribers.update().where(subscribers.c.id == subscriber_id).values(
                status="active", confirmed_at=row.confirmed_at or now, unsubscribed_at=None,
                pending=None, pending_nonce=None))
            self._apply(conn, subscriber_id, settings, next_send)
        return "confirmed"

    def update_settings(self, subscriber_id: int, settings: ReaderSettings, *, next_send: NextSend) -> bool:
        """Change an active reader's settings (the manage page); False when not active."""
        with self._write() as conn:
            status = conn.execute(sa.select(subscribers.c.status)
                                  .where(subscribers.c.id == subscriber_id)).scalar_one_or_none()
            if status != "active":
                return False
            self._apply(conn, subscriber_id, settings, next_send)
        return True

    def _apply(self, conn: Connection, sid: int, settings: ReaderSettings, next_send: NextSend) -> None:
        row = conn.execute(sa.select(subscribers).where(subscribers.c.id == sid)).one()
        hour_changed = (row.timezone, row.send_hour) != (settings.timezone, settings.send_hour)
        values: dict[str, Any] = {"timezone": settings.timezone, "send_hour": settings.send_hour,
                                  "description": settings.description, "keywords": json.dumps(list(settings.keywords))}
        if hour_changed or row.next_send_at is None:
            values["next_send_at"] = utc(next_send(settings.timezone, settings.send_hour))
        conn.execute(subscribers.update().where(subscribers.c.id == sid).values(**values))
        # Profiles kept keep what they are owed; a profile joined now owes only digests made from now on.
        latest = conn.execute(sa.select(sa.func.coalesce(sa.func.max(digests.c.id), 0))).scalar_one()
        personal = personal_profile_name(sid)
        wanted = set(settings.profiles) | ({personal} if settings.personal else set())
        have = {r.profile for r in conn.execute(sa.select(subscriptions.c.profile)
                                                 .where(subscriptions.c.subscriber_id == sid))}
        gone = have - wanted
        if gone:
            conn.execute(subscriptions.delete().where(subscriptions.c.subscriber_id == sid,
                                                      subscriptions.c.profile.in_(sorted(gone))))
        if personal in wanted - have:
            # A personal profile that starts (again) starts like a new one: the last days' papers.
            conn.execute(profile_state.delete().where(profile_state.c.profile == personal))
        new = sorted(wanted - have)
        if new:
            conn.execute(subscriptions.insert(), [{"subscriber_id": sid, "profile": p, "since_digest": latest}
                                                  for p in new])

    def unsubscribe(self, subscriber_id: int, *, now: datetime) -> bool:
        """End the subscription at once: nothing queued for the reader is sent any more. True when
        it was active (a repeated click changes nothing)."""
        with self._write() as conn:
            changed = conn.execute(subscribers.update().where(
                subscribers.c.id == subscriber_id, subscribers.c.status == "active"
            ).values(status="unsubscribed", unsubscribed_at=utc(now), next_send_at=None)).rowcount
            conn.execute(deliveries.update().where(
                deliveries.c.subscriber_id == subscriber_id, deliveries.c.status == "pending"
            ).values(status="cancelled", last_error="unsubscribed"))
        return bool(changed)

    def resubscribe(self, subscriber_id: int, *, next_send: NextSend) -> bool:
        """Undo an unsubscribe with the same settings; what was made meanwhile is not sent."""
        with self._write() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.id == subscriber_id)).first()
            if row is None or row.status != "unsubscribed":
                return False
            latest = conn.execute(sa.select(sa.func.coalesce(sa.func.max(digests.c.id), 0))).scalar_one()
            conn.execute(subscribers.update().where(subscribers.c.id == subscriber_id).values(
                status="active", unsubscribed_at=None, next_send_at=utc(next_send(row.timezone, row.send_hour))))
            conn.execute(subscriptions.update().where(subscriptions.c.subscriber_id == subscriber_id)
                         .values(since_digest=latest))
        return True

    # -- reading ----------------------------------------------------------------------------

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        with self._read() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.id == subscriber_id)).first()
            return self._subscriber(conn, row) if row is not None else None

    def subscriber_by_feed_key(self, key: str) -> Subscriber | None:
        with self._read() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.feed_key == key)).first()
            return self._subscriber(conn, row) if row is not None else None

    def active_subscribers(self) -> list[Subscriber]:
        with self._read() as conn:
            rows = conn.execute(sa.select(subscribers).where(subscribers.c.status == "active")
                                .order_by(subscribers.c.id)).all()
            return [self._subscriber(conn, r) for r in rows]

    def _subscriber(self, conn: Connection, row: Any) -> Subscriber:
        chosen = [r.profile for r in conn.execute(sa.select(subscriptions.c.profile).where(
            subscriptions.c.subscriber_id == row.id).order_by(subscriptions.c.profile))]
        liked = conn.execute(sa.select(papers).select_from(feedback.join(papers, papers.c.id == feedback.c.paper_id))
                             .where(feedback.c.subscriber_id == row.id, feedback.c.kind == "more")
                             .order_by(feedback.c.created_at, papers.c.id)).all()
        settings = ReaderSettings(profiles=tuple(p for p in chosen if not p.startswith(PERSONAL_PREFIX)),
                                  timezone=row.timezone, send_hour=int(row.send_hour), description=row.description,
                                  keywords=tuple(json.loads(row.keywords or "[]")))
        return Subscriber(id=int(row.id), email=row.email, status=row.status, settings=settings,
                          feed_key=row.feed_key, next_send_at=aware(row.next_send_at),
                          liked=tuple(paper_from_row(r) for r in liked))

    # -- feedback -----------------------------------------------------------------------------

    def record_feedback(self, subscriber_id: int, paper_id: int, kind: str, *, now: datetime) -> Paper | None:
        """"more" (more like this) or "less" (not for me) on a paper; the latest click counts.
        Returns the paper, or None when there is no such paper."""
        if kind not in ("more", "less"):
            raise ValueError(f"feedback kind must be more or less, not {kind!r}")
        with self._write() as conn:
            row = conn.execute(sa.select(papers).where(papers.c.id == paper_id)).first()
            if row is None:
                return None
            done = conn.execute(feedback.update().where(
                feedback.c.subscriber_id == subscriber_id, feedback.c.paper_id == paper_id
            ).values(kind=kind, created_at=utc(now))).rowcount
            if not done:
                conn.execute(feedback.insert().values(subscriber_id=subscriber_id, paper_id=paper_id, kind=kind,
                                                      created_at=utc(now)))
            return paper_from_row(row)

    def papers_sent_to(self, subscriber_id: int, *, limit: int = 10) -> list[tuple[int, Paper, str | None]]:
        """The papers of the latest digests sent to the reader, newest first, with their feedback
        on each ("more", "less" or None): what the manage page offers to rate."""
        with self._read() as conn:
            kind = (sa.select(feedback.c.kind).where(feedback.c.subscriber_id == subscriber_id,
                                                     feedback.c.paper_id == papers.c.id)
                    .scalar_subquery())
            rows = conn.execute(
                sa.select(papers, kind.label("feedback_kind"))
                .select_from(deliveries.join(digest_items, digest_items.c.digest_id == deliveries.c.digest_id)
                             .join(papers, papers.c.id == digest_items.c.paper_id))
                .where(deliveries.c.subscriber_id == subscriber_id, deliveries.c.status == "sent")
                .order_by(deliveries.c.digest_id.desc(), digest_items.c.position).limit(limit)).all()
        seen: set[int] = set()
        out = []
        for r in rows:
            if r.id not in seen:
                seen.add(r.id)
                out.append((int(r.id), paper_from_row(r), r.feedback_kind))
        return out

    def feedback_counts(self, subscriber_id: int) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(sa.select(feedback.c.kind, sa.func.count()).where(
                feedback.c.subscriber_id == subscriber_id).group_by(feedback.c.kind)).all()
        return {str(k): int(n) for k, n in rows}

    # -- what is owed, when the reader's hour comes --------------------------------------------

    def due_subscribers(self, now: datetime) -> list[tuple[int, datetime, str, int]]:
        """(id, next_send_at, time zone, send hour) of the active readers whose hour has come."""
        with self._read() as conn:
            rows = conn.execute(sa.select(subscribers.c.id, subscribers.c.next_send_at, subscribers.c.timezone,
                                          subscribers.c.send_hour).where(
                subscribers.c.status == "active", subscribers.c.next_send_at <= utc(now)).order_by(subscribers.c.id))
            return [(int(r.id), aware(r.next_send_at) or utc(now), r.timezone, int(r.send_hour)) for r in rows]

    def queue_owed(self, subscriber_id: int, *, expected: datetime, following: datetime, now: datetime,
                   send_empty: Sequence[str] = ()) -> int | None:
        """Owe the reader every digest of their profiles made since they joined and not delivered
        to their address yet (empty ones only for ``send_empty`` profiles), and move their next
        send time on, in one transaction. None when another run did it first (compare-and-set)."""
        with self._write() as conn:
            row = conn.execute(sa.select(subscribers.c.email).where(
                subscribers.c.id == subscriber_id, subscribers.c.status == "active",
                subscribers.c.next_send_at == utc(expected))).first()
            if row is None:
                return None
            conn.execute(subscribers.update().where(subscribers.c.id == subscriber_id)
                         .values(next_send_at=utc(following)))
            has_items = sa.exists().where(digest_items.c.digest_id == digests.c.id)
            delivered = sa.exists().where(deliveries.c.digest_id == digests.c.id,
                                          deliveries.c.recipient == row.email)
            wanted = has_items if not send_empty else sa.or_(has_items, digests.c.profile.in_(list(send_empty)))
            owed = [r.id for r in conn.execute(
                sa.select(digests.c.id)
                .select_from(digests.join(subscriptions, sa.and_(subscriptions.c.profile == digests.c.profile,
                                                                 subscriptions.c.subscriber_id == subscriber_id)))
                .where(digests.c.id > subscriptions.c.since_digest, digests.c.created_at <= utc(now), wanted,
                       ~delivered)
                .order_by(digests.c.id))]
            if owed:
                conn.execute(deliveries.insert(), [
                    {"digest_id": d, "recipient": row.email, "status": "pending", "attempts": 0,
                     "subscriber_id": subscriber_id} for d in owed])
        return len(owed)
