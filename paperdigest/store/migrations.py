"""Schema upgrades, one function per version step, run in the transaction that opens the store."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperdigest.errors import StoreError
from paperdigest.store.schema import (SCHEMA_VERSION, deliveries, digest_items, feedback, meta, metadata,
                                      paper_updates, paper_vectors, papers, sightings, snapshots, source_state,
                                      subscribers, subscriptions, text_vectors)


def upgrade(conn: Connection, *, create: bool, where: str) -> None:
    """Create a new store, or bring an older one up to ``SCHEMA_VERSION``; refuse what is not ours."""
    insp = sa.inspect(conn)
    tables = set(insp.get_table_names())
    if "meta" not in tables:
        if tables & {"papers", "snapshots"}:
            raise StoreError(f"store {where}: not a paperdigest store (no schema version)")
        if not create:
            raise StoreError(f"store {where}: empty store")
        metadata.create_all(conn)
        conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        return
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"store {where}: schema version {version} is newer than this "
            f"paperdigest understands ({SCHEMA_VERSION}); upgrade paperdigest")
    if version < 1:
        raise StoreError(f"store {where}: unknown schema version {version}")
    for v in range(version, SCHEMA_VERSION):
        MIGRATIONS[v](conn)
    if version != SCHEMA_VERSION:
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))


def _add_column(conn: Connection, table: sa.Table, column: str) -> None:
    """Add ``table.column`` (as the schema declares it) to a store that lacks it."""
    if column not in {c["name"] for c in sa.inspect(conn).get_columns(table.name)}:
        kind = table.c[column].type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column} {kind}"))


def _v1_to_v2(conn: Connection) -> None:
    """Schema 2 added conditional-GET state per source and a warning per snapshot."""
    _add_column(conn, snapshots, "warning")
    source_state.create(conn, checkfirst=True)


def _add_subscribers(conn: Connection) -> None:
    """Readers of the web app: subscribers (with their personal profile and send hour), the
    profiles they chose, their feedback on papers, and which delivery belongs to which of them."""
    for table in (subscribers, subscriptions, feedback):
        table.create(conn, checkfirst=True)
    _add_column(conn, deliveries, "subscriber_id")


def _add_paper_life(conn: Connection) -> None:
    """Schema 4 added a paper's life: sightings per capture, the fields filled in or corrected
    later (with their source and time), ``papers.updated_at`` and the momentum shown with a
    digest item. Earlier captures' sightings were never recorded: each paper gets the one
    sighting that is known, its first snapshot's."""
    _add_column(conn, papers, "updated_at")
    _add_column(conn, digest_items, "momentum")
    paper_updates.create(conn, checkfirst=True)
    if not sa.inspect(conn).has_table("sightings"):
        sightings.create(conn)
        conn.execute(sightings.insert().from_select(
            ["paper_id", "snapshot_id", "upvotes"],
            sa.select(papers.c.id, papers.c.first_snapshot_id, sa.null())
            .where(papers.c.first_snapshot_id.is_not(None))))


def _add_vectors(conn: Connection) -> None:
    """Embeddings: one vector per paper (``paper_vectors``) and a cache of other texts' vectors
    (``text_vectors``); both start empty and are filled by the next run."""
    paper_vectors.create(conn, checkfirst=True)
    text_vectors.create(conn, checkfirst=True)


MIGRATIONS = {1: _v1_to_v2, 2: _add_subscribers, 3: _add_paper_life, 4: _add_vectors}
