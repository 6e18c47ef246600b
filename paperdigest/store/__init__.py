"""The persistent store: every table, every query, every schema upgrade.

SQLAlchemy Core only, so any SQLAlchemy URL works (SQLite by default; PostgreSQL too).
SQLite runs in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE`` so two processes serialize their writes instead of failing halfway;
on PostgreSQL a transaction-scoped advisory lock does the same.
Every multi-row change happens in one transaction.

Exactly-once bookkeeping lives here:

* ``profile_state.cursor`` is the highest paper id a profile has considered. A digest is
  created together with the cursor move, guarded by compare-and-set, so two runs at once
  cannot both create a digest for the same papers; ``digest_items`` is unique per
  (profile, paper) as a second guard.
* ``deliveries`` holds one row per (digest, recipient), unique. A run *claims* a pending row
  before sending (compare-and-set on status), and marks it ``sent`` only after the SMTP
  server accepted the message. A claim left by a process that died is taken over.
"""

from __future__ import annotations

from paperdigest.store.archive import ArchiveStore, DigestSummary
from paperdigest.store.base import OPEN_ATTEMPTS, PG_WRITE_LOCK, StoreBase, _Locked
from paperdigest.store.deliveries import CLAIM_LEASE, MAX_ATTEMPTS, Delivery, DeliveryStore
from paperdigest.store.digests import DigestRecord, DigestStore
from paperdigest.store.life import PaperLifeStore
from paperdigest.store.migrations import MIGRATIONS
from paperdigest.store.papers import IngestResult, PaperStore
from paperdigest.store.rows import content_hash, paper_uid
from paperdigest.store.schema import (SCHEMA_VERSION, blobs, deliveries, digest_items, digests, feedback, meta,
                                      metadata, paper_updates, paper_vectors, papers, profile_state, sightings, snapshots,
                                      source_state, subscribers, subscriptions, text_vectors)
from paperdigest.store.subscribers import (PERSONAL_PREFIX, ReaderSettings, Subscriber, SubscriberStore,
                                           personal_profile_name)
from paperdigest.store.vectors import VectorStore


class Store(PaperStore, DigestStore, DeliveryStore, PaperLifeStore, SubscriberStore, ArchiveStore, VectorStore):
    """A handle on the store. Cheap to create; call :meth:`close` (or use ``with``)."""


__all__ = ["CLAIM_LEASE", "MAX_ATTEMPTS", "MIGRATIONS", "OPEN_ATTEMPTS", "PERSONAL_PREFIX", "PG_WRITE_LOCK",
           "SCHEMA_VERSION", "ArchiveStore", "Delivery", "DigestRecord", "DigestSummary", "IngestResult",
           "ReaderSettings", "Store", "StoreBase", "Subscriber", "SubscriberStore", "VectorStore", "_Locked", "blobs",
           "content_hash", "deliveries", "digest_items", "digests", "feedback", "meta", "metadata", "paper_uid",
           "paper_updates", "paper_vectors", "papers", "personal_profile_name", "profile_state", "sightings", "snapshots",
           "source_state", "subscribers", "subscriptions", "text_vectors"]
