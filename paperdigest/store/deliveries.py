"""Deliveries: one row per (digest, recipient); a run claims a row before sending (compare-and-set)
and marks it sent only after the server accepted the message. A claim left by a dead process
is taken over."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from paperdigest.store.base import StoreBase
from paperdigest.store.rows import aware, utc
from paperdigest.store.schema import deliveries, digests

# A claim on a delivery older than this is considered abandoned even if its owner is unknown.
CLAIM_LEASE = timedelta(minutes=15)
# Give up on an address after this many transient failures in a row.
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Delivery:
    id: int
    digest_id: int
    recipient: str
    attempts: int
    subscriber_id: int | None = None  # a web subscriber's delivery: their email carries their own links



def _owner_alive(claimed_by: str | None) -> bool:
    """A claim is "host:pid:run"; on this host, a dead pid means the claim was abandoned."""
    if not claimed_by:
        return False
    host, _, rest = claimed_by.partition(":")
    pid_s, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid_s.isdigit():
        return True  # another machine: trust the lease instead
    try:
        os.kill(int(pid_s), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_MARK_SENT = (deliveries.update()
              .where(deliveries.c.id == sa.bindparam("m_id"), deliveries.c.claimed_by == sa.bindparam("m_owner"))
              .values(status="sent", sent_at=sa.bindparam("m_at"), channel=sa.bindparam("m_channel"),
                      last_error=None, attempts=deliveries.c.attempts + 1))



class DeliveryStore(StoreBase):
    """Claims and delivery records."""

    # -- deliveries -------------------------------------------------------------------

    def claim_deliveries(self, owner: str, now: datetime, digest_ids: Iterable[int] | None = None, *,
                         subscribers: bool = True) -> list[Delivery]:
        """Claim every owed delivery (pending, or abandoned by a dead run) for ``owner``; with
        ``subscribers`` False, leave web subscribers' deliveries alone (no [web] to link to)."""
        now = utc(now)
        claimed: list[Delivery] = []
        with self._write() as conn:
            q = sa.select(deliveries).where(deliveries.c.status.in_(("pending", "sending")))
            if not subscribers:
                q = q.where(deliveries.c.subscriber_id.is_(None))
            if digest_ids is not None:
                q = q.where(deliveries.c.digest_id.in_(list(digest_ids)))
            for row in conn.execute(q.order_by(deliveries.c.digest_id, deliveries.c.id)).all():
                if row.status == "sending":
                    claimed_at = aware(row.claimed_at)
                    stale = claimed_at is None or now - claimed_at > CLAIM_LEASE
                    if not stale and _owner_alive(row.claimed_by):
                        continue
                got = conn.execute(deliveries.update().where(
                    deliveries.c.id == row.id, deliveries.c.status == row.status,
                    deliveries.c.claimed_by.is_(None) if row.claimed_by is None else deliveries.c.claimed_by == row.claimed_by,
                ).values(status="sending", claimed_by=owner, claimed_at=now)).rowcount
                if got == 1:
                    claimed.append(Delivery(row.id, row.digest_id, row.recipient, row.attempts, row.subscriber_id))
        return claimed

    def mark_sent(self, delivery_id: int, owner: str, now: datetime, channel: str) -> None:
        """One transaction per email, right after the server accepted it (a prepared statement:
        this runs once per email sent)."""
        with self._write() as conn:
            conn.execute(_MARK_SENT, {"m_id": delivery_id, "m_owner": owner, "m_at": utc(now), "m_channel": channel})

    def mark_failed(self, delivery_id: int, owner: str, error: str, *, permanent: bool) -> str:
        """Record a failed attempt; returns the new status (pending again unless given up on)."""
        with self._write() as conn:
            row = conn.execute(sa.select(deliveries.c.attempts).where(deliveries.c.id == delivery_id)).one()
            attempts = int(row.attempts) + 1
            status = "failed" if permanent or attempts >= MAX_ATTEMPTS else "pending"
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.claimed_by == owner)
                         .values(status=status, attempts=attempts, last_error=error, claimed_by=None,
                                 claimed_at=None))
        return status

    def delivery_status(self, digest_id: int | None = None) -> list[tuple[str, str, str, str | None, str | None]]:
        """(digest key, recipient, status, last error, channel) rows: for reports and tests."""
        with self._read() as conn:
            q = (sa.select(digests.c.digest_key, deliveries.c.recipient, deliveries.c.status, deliveries.c.last_error,
                           deliveries.c.channel)
                 .select_from(deliveries.join(digests, digests.c.id == deliveries.c.digest_id))
                 .order_by(deliveries.c.id))
            if digest_id is not None:
                q = q.where(deliveries.c.digest_id == digest_id)
            return [(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(q)]
