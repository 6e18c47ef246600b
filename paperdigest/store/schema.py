"""The store's tables (SQLAlchemy Core) and the schema version they make.

A change here needs a step in :mod:`paperdigest.store.migrations` and a higher ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 5

metadata = sa.MetaData()

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

snapshots = sa.Table(
    "snapshots", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("format", sa.String(16)),
    sa.Column("captured_at", sa.DateTime(timezone=True)),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("listing_date", sa.Date),
    sa.Column("paper_count", sa.Integer, nullable=False, default=0),
    sa.Column("new_count", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    sa.Column("warning", sa.Text),  # added in schema 2
    sa.Index("ix_snapshots_ok_hash", "content_hash", unique=True,
             sqlite_where=sa.text("error IS NULL"), postgresql_where=sa.text("error IS NULL")),
    sa.Index("ix_snapshots_source", "source", "id"),
)

papers = sa.Table(
    "papers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(96), nullable=False, unique=True),
    sa.Column("arxiv_id", sa.String(32), unique=True),
    sa.Column("title_key", sa.Text, nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("authors", sa.Text),  # JSON list
    sa.Column("published", sa.DateTime(timezone=True)),
    sa.Column("upvotes", sa.Integer),
    sa.Column("ai_summary", sa.Text),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("seen_count", sa.Integer, nullable=False, default=1),
    sa.Column("first_snapshot_id", sa.Integer),
    sa.Column("updated_at", sa.DateTime(timezone=True)),  # added in schema 4: a later capture changed a field
)

# Added in schema 4: one row per (paper, capture that listed it), with the upvotes that capture
# gave (NULL when its source gives none). Keyed by paper first: a paper's history is one range,
# and new papers (the highest ids) append. No foreign keys: only ingest writes here, ids it has
# just read or inserted in the same transaction, and checking them cost a quarter of the insert.
sightings = sa.Table(
    "sightings", metadata,
    sa.Column("paper_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("snapshot_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("upvotes", sa.Integer),
    sqlite_with_rowid=False,
)

# Added in schema 4: every field a capture filled in or corrected after the paper's first sight.
# A field's source is its latest row here, else the paper's first snapshot.
paper_updates = sa.Table(
    "paper_updates", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("paper_id", sa.Integer, sa.ForeignKey("papers.id"), nullable=False, index=True),
    sa.Column("field", sa.String(32), nullable=False),
    sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("snapshots.id"), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("previous", sa.Text),  # the value it replaced (JSON for authors); NULL when it was missing
)


profile_state = sa.Table(
    "profile_state", metadata,
    sa.Column("profile", sa.String(64), primary_key=True),
    sa.Column("cursor", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

digests = sa.Table(
    "digests", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest_key", sa.String(128), nullable=False, unique=True),
    sa.Column("profile", sa.String(64), nullable=False, index=True),
    sa.Column("profile_title", sa.Text, nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("new_papers", sa.Integer, nullable=False),
    sa.Column("matched", sa.Integer, nullable=False),
    sa.Column("warnings", sa.Text, nullable=False, default="[]"),
    sa.Column("markdown_path", sa.Text),
)

digest_items = sa.Table(
    "digest_items", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest_id", sa.Integer, sa.ForeignKey("digests.id"), nullable=False, index=True),
    sa.Column("profile", sa.String(64), nullable=False),
    sa.Column("paper_id", sa.Integer, sa.ForeignKey("papers.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("matches", sa.Text, nullable=False),  # JSON list of [term, where, contribution]
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("momentum", sa.Text),  # added in schema 4: JSON of the sightings and blend shown with the item
    sa.UniqueConstraint("profile", "paper_id", name="uq_digest_items_profile_paper"),
)

deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest_id", sa.Integer, sa.ForeignKey("digests.id"), nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="pending"),  # pending|sending|sent|failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("channel", sa.String(16)),  # smtp|outbox
    sa.Column("subscriber_id", sa.Integer),  # a web subscriber's (their own links); added in schema 3
    sa.UniqueConstraint("digest_id", "recipient", name="uq_deliveries_digest_recipient"),
    sa.Index("ix_deliveries_status", "status"),
)

source_state = sa.Table(  # added in schema 2
    "source_state", metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)

blobs = sa.Table(
    "blobs", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
)

# -- readers who subscribed through the web app (added in schema 3) --------------------------

subscribers = sa.Table(
    "subscribers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),  # normalised
    sa.Column("status", sa.String(16), nullable=False),  # pending|active|unsubscribed
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("confirmed_at", sa.DateTime(timezone=True)),
    sa.Column("unsubscribed_at", sa.DateTime(timezone=True)),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("send_hour", sa.Integer, nullable=False),
    sa.Column("next_send_at", sa.DateTime(timezone=True)),  # when their owed digests go out next
    sa.Column("description", sa.Text, nullable=False, default=""),  # the personal profile
    sa.Column("keywords", sa.Text, nullable=False, default="[]"),  # JSON list of terms
    sa.Column("feed_key", sa.String(64), nullable=False, unique=True),  # the private feed's URL
    sa.Column("pending", sa.Text),  # JSON: the settings the latest confirmation link applies
    sa.Column("pending_nonce", sa.String(32)),
    sa.Index("ix_subscribers_due", "status", "next_send_at"),
)

subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), primary_key=True),
    sa.Column("profile", sa.String(64), primary_key=True),
    # Digests of the profile with a higher id are owed to the reader: none from before they joined.
    sa.Column("since_digest", sa.Integer, nullable=False),
)

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), primary_key=True),
    sa.Column("paper_id", sa.Integer, sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),  # more|less
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Embeddings (added in schema 5, see migrations._add_vectors). One vector per paper, made by the
# model its key names; a vector under another key is stale and replaced by the next run.
paper_vectors = sa.Table(
    "paper_vectors", metadata,
    sa.Column("paper_id", sa.Integer, sa.ForeignKey("papers.id"), primary_key=True, autoincrement=False),
    sa.Column("model_key", sa.String(128), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # little-endian float16
)

# Vectors of other texts (a profile's description, ...), by sha256 of (model key, text).
text_vectors = sa.Table(
    "text_vectors", metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("model_key", sa.String(128), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # little-endian float32
)
