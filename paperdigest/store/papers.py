"""Captures and papers: ingest (the diff against everything seen), paper queries, derived
blobs (IDF statistics) and per-source conditional-GET state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperdigest.models import Listing, Paper, fold_title, normalize_arxiv_id
from paperdigest.store.base import StoreBase
from paperdigest.store.fieldupdates import FIELDS, FUTURE_SLACK, label, previous_text, proposed, vet
from paperdigest.store.rows import chunks, paper_from_row, paper_uid, storable, utc
from paperdigest.store.schema import blobs, paper_updates, paper_vectors, papers, sightings, snapshots, source_state

# The lookups of the diff: prepared once, so a chunk of 500 keys is only bound, not re-built.
_PAPER_COLS = (papers.c.id, papers.c.arxiv_id, papers.c.title_key, papers.c.title, papers.c.abstract, papers.c.url,
               papers.c.authors, papers.c.published, papers.c.upvotes, papers.c.ai_summary)
_BY_ARXIV = sa.select(*_PAPER_COLS).where(papers.c.arxiv_id.in_(sa.bindparam("keys", expanding=True)))
_BY_TITLE = (sa.select(*_PAPER_COLS).where(papers.c.title_key.in_(sa.bindparam("keys", expanding=True)))
             .order_by(papers.c.id))


@dataclass(frozen=True)
class IngestResult:
    source: str
    papers: int
    new: int
    duplicate: bool
    new_ids: tuple[int, ...] = ()
    snapshot_id: int | None = None
    updated: int = 0  # known papers a field of which this capture filled in or corrected
    warnings: tuple[str, ...] = ()  # values refused, each naming the capture


@dataclass
class _Diff:
    """What one capture changes: new papers, sightings, fields filled or corrected, refusals."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    seen: dict[int, int | None] = field(default_factory=dict)  # known paper id -> upvotes of this capture
    upvotes: dict[int, int] = field(default_factory=dict)  # known paper id -> a new upvote reading
    changes: list[tuple[Any, dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # row, fills, fixes
    warnings: list[str] = field(default_factory=list)


class PaperStore(StoreBase):
    """Ingest and paper queries."""

    # -- ingest -----------------------------------------------------------------------

    def is_duplicate(self, digest: str) -> bool:
        with self._read() as conn:
            q = sa.select(snapshots.c.id).where(snapshots.c.content_hash == digest, snapshots.c.error.is_(None))
            return conn.execute(q.limit(1)).first() is not None

    def ingest(self, listing: Listing, *, source: str, hash_: str, captured: datetime | None,
               now: datetime, warning: str | None = None) -> IngestResult:
        """Record one parsed capture and its papers in one transaction; report which are new."""
        now = utc(now)
        items: list[Paper] = []
        refused: list[str] = []
        latest = now + FUTURE_SLACK
        for p in listing.papers:
            p, notes = vet(storable(p), source, latest)
            items.append(p)
            refused.extend(notes)
        with self._write() as conn:
            dup = conn.execute(sa.select(snapshots.c.id).where(
                snapshots.c.content_hash == hash_, snapshots.c.error.is_(None)).limit(1)).first()
            if dup is not None:
                return IngestResult(source, len(listing.papers), 0, True)
            snap_id = conn.execute(snapshots.insert().values(
                content_hash=hash_, source=source, format=listing.format,
                captured_at=utc(captured) if captured else None, ingested_at=now,
                listing_date=listing.date, paper_count=len(listing.papers), new_count=0,
                warning=warning)).inserted_primary_key[0]  # type: ignore[index]
            new_ids, updated, notes = self._upsert_papers(conn, items, snap_id, now, source)
            conn.execute(snapshots.update().where(snapshots.c.id == snap_id).values(new_count=len(new_ids)))
        return IngestResult(source, len(listing.papers), len(new_ids), False, tuple(new_ids), snap_id, updated,
                            tuple(refused + notes))

    def record_failure(self, *, source: str, hash_: str | None, error: str, now: datetime) -> None:
        """Keep a trace of an input that could not be used (it never counts as a duplicate)."""
        with self._write() as conn:
            conn.execute(snapshots.insert().values(
                content_hash=hash_ or "-", source=source, ingested_at=utc(now), paper_count=0,
                new_count=0, error=error))

    def _upsert_papers(self, conn: Connection, items: Sequence[Paper], snap_id: int, now: datetime,
                       source: str) -> tuple[list[int], int, list[str]]:
        """Store the capture's new papers, a sighting of every paper it lists, and what it fills
        in or corrects in known ones: (new paper ids, papers updated, warnings)."""
        keys = [p.title_key for p in items]  # folding a title is the costliest step here: once per paper
        by_arxiv, by_title = self._known(conn, items, keys)
        diff = _Diff()
        for p, title_key in zip(items, keys):
            row = _match(p, title_key, by_arxiv, by_title)
            by_id = row is not None and row is by_arxiv.get(p.arxiv_id or "")
            if row is not None:
                if diff.seen.get(row.id) is None:  # a paper listed twice: one sighting
                    diff.seen[row.id] = p.upvotes
                if p.upvotes is not None and p.upvotes != row.upvotes:
                    diff.upvotes[row.id] = p.upvotes
                if not title_key:
                    diff.warnings.append(f"{source}: {label(p)}: a title without a letter or digit ignored")
                fills, fixes = proposed(row, p, by_arxiv=by_id, title_ok=bool(title_key))
                if fills or fixes:
                    diff.changes.append((row, fills, fixes))
                continue
            if not title_key:
                diff.warnings.append(f"{source}: {label(p)}: a title without a letter or digit: not stored")
                continue
            diff.inserts.append({
                "uid": paper_uid(p, title_key), "arxiv_id": p.arxiv_id, "title_key": title_key, "title": p.title,
                "abstract": p.abstract, "url": p.url, "authors": json.dumps(list(p.authors)) if p.authors else None,
                "published": utc(p.published) if p.published else None, "upvotes": p.upvotes,
                "ai_summary": p.ai_summary, "first_seen": now, "last_seen": now, "seen_count": 1,
                "first_snapshot_id": snap_id,
            })
        if diff.seen:
            stmt = papers.update().where(papers.c.id == sa.bindparam("b_id")).values(
                last_seen=now, seen_count=papers.c.seen_count + 1)
            conn.execute(stmt, [{"b_id": i} for i in diff.seen])
        if diff.upvotes:
            stmt = papers.update().where(papers.c.id == sa.bindparam("b_id")).values(upvotes=sa.bindparam("b_up"))
            conn.execute(stmt, [{"b_id": i, "b_up": u} for i, u in diff.upvotes.items()])
        updated = self._apply_changes(conn, diff.changes, snap_id, now, source)
        new_ids = self._insert_new(conn, diff.inserts)
        sighted = [(i, snap_id, u) for i, u in diff.seen.items()]
        sighted += [(i, snap_id, r["upvotes"]) for i, r in zip(new_ids, diff.inserts)]
        if sighted:
            # One row per paper listed: straight to the driver, as tuples (SQLAlchemy's per-row
            # parameter handling cost more than SQLite's insert).
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            conn.exec_driver_sql(f"INSERT INTO {sightings.name} (paper_id, snapshot_id, upvotes) "
                                 f"VALUES ({mark}, {mark}, {mark})", sighted)
        return new_ids, updated, diff.warnings

    @staticmethod
    def _known(conn: Connection, items: Sequence[Paper], keys: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The stored papers a listing names: by arXiv id, and by folded title (the oldest first)."""
        by_arxiv: dict[str, Any] = {}
        by_title: dict[str, Any] = {}
        arxiv_ids = sorted({p.arxiv_id for p in items if p.arxiv_id})
        title_keys = sorted(set(keys))
        for chunk in chunks(arxiv_ids, 500):
            for found in conn.execute(_BY_ARXIV, {"keys": list(chunk)}):
                by_arxiv[found.arxiv_id] = found
        for chunk in chunks(title_keys, 500):
            for found in conn.execute(_BY_TITLE, {"keys": list(chunk)}):
                by_title.setdefault(found.title_key, found)
        return by_arxiv, by_title

    @staticmethod
    def _insert_new(conn: Connection, inserts: list[dict[str, Any]]) -> list[int]:
        if not inserts:
            return []
        # New rows get ids above the current maximum (rowid on SQLite, a sequence elsewhere):
        # reading them back by id range is one index range scan, not a lookup per paper.
        # Rows another writer added meanwhile (PostgreSQL) are told apart by their uid.
        before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(papers.c.id), 0))).scalar_one()
        conn.execute(papers.insert(), inserts)
        wanted = {r["uid"] for r in inserts}
        id_by_uid: dict[str, int] = {}
        for row in conn.execute(sa.select(papers.c.id, papers.c.uid).where(papers.c.id > before)):
            if row.uid in wanted:
                id_by_uid[row.uid] = row.id
        return [id_by_uid[r["uid"]] for r in inserts]

    @staticmethod
    def _apply_changes(conn: Connection, changes: list[tuple[Any, dict[str, Any], dict[str, Any]]], snap_id: int,
                       now: datetime, source: str) -> int:
        """Write the fills, and the corrections of fields this source gave; log each change."""
        owners = _field_sources(conn, [row.id for row, _, fixes in changes if fixes])
        updated = 0
        log: list[dict[str, Any]] = []
        for row, fills, fixes in changes:
            accepted = dict(fills)
            accepted.update({f: v for f, v in fixes.items() if owners.get((row.id, f), owners.get((row.id, None)))
                             == source})
            if not accepted:
                continue
            values = dict(accepted, updated_at=now)
            if "title" in accepted:
                values["title_key"] = fold_title(accepted["title"])
            conn.execute(papers.update().where(papers.c.id == row.id).values(**values))
            if "title" in accepted or "abstract" in accepted:
                # Its vector was made from the old text: the next run's embedding step makes it again.
                conn.execute(paper_vectors.delete().where(paper_vectors.c.paper_id == row.id))
            log.extend({"paper_id": row.id, "field": f, "snapshot_id": snap_id, "changed_at": now,
                        "previous": previous_text(row, f)} for f in FIELDS if f in accepted)
            updated += 1
        if log:
            conn.execute(paper_updates.insert(), log)
        return updated

    # -- papers -----------------------------------------------------------------------

    def paper_ids_of(self, items: Sequence[Paper]) -> list[int | None]:
        """The store id of each paper, by the identity rule of ingest (arXiv id, else folded
        title), or None for a paper the store has not seen; read only."""
        keys = [p.title_key for p in items]
        with self._read() as conn:
            by_arxiv, by_title = self._known(conn, items, keys)
        rows = [_match(p, key, by_arxiv, by_title) for p, key in zip(items, keys)]
        return [int(row.id) if row is not None else None for row in rows]

    def find_liked(self, entries: Sequence[str]) -> dict[str, int]:
        """Liked entries found in the store -> paper id: by arXiv id (any version or URL form),
        else by title (folded: case, accents, punctuation and spacing do not matter), by the
        identity rule of ingest. Entries not found are left out."""
        ids = self.paper_ids_of([Paper(e, "", arxiv_id=normalize_arxiv_id(e)) for e in entries])
        return {e: pid for e, pid in zip(entries, ids) if pid is not None}

    def paper_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())

    def max_paper_id(self) -> int:
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(papers.c.id), 0))).scalar_one())

    def papers_after(self, paper_id: int, *, limit: int | None = None) -> list[tuple[int, Paper]]:
        """Papers with an id above ``paper_id`` (ids grow with first sight), oldest first."""
        with self._read() as conn:
            q = sa.select(papers).where(papers.c.id > paper_id).order_by(papers.c.id)
            if limit:
                q = q.limit(limit)
            return [(row.id, paper_from_row(row)) for row in conn.execute(q)]

    def first_paper_seen_since(self, since: datetime) -> int:
        """The cursor that makes a new profile's first digest cover papers first seen since ``since``."""
        with self._read() as conn:
            q = sa.select(sa.func.min(papers.c.id)).where(papers.c.first_seen >= utc(since))
            first = conn.execute(q).scalar_one_or_none()
            if first is None:
                return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(papers.c.id), 0))).scalar_one())
            return int(first) - 1

    # -- blobs (derived data such as IDF statistics) ------------------------------------

    def load_blob(self, key: str) -> tuple[str, int] | None:
        with self._read() as conn:
            row = conn.execute(sa.select(blobs.c.value, blobs.c.version).where(blobs.c.key == key)).first()
            return (row.value, row.version) if row else None

    def save_blob(self, key: str, value: str, version: int) -> None:
        """Save unless a newer version is already there (another run got further)."""
        with self._write() as conn:
            row = conn.execute(sa.select(blobs.c.version).where(blobs.c.key == key)).first()
            if row is None:
                conn.execute(blobs.insert().values(key=key, value=value, version=version))
            elif row.version < version:
                conn.execute(blobs.update().where(blobs.c.key == key).values(value=value, version=version))

    # -- source state (conditional GET) --------------------------------------------------

    def source_validators(self, source: str) -> tuple[str | None, str | None]:
        with self._read() as conn:
            row = conn.execute(sa.select(source_state.c.etag, source_state.c.last_modified)
                               .where(source_state.c.source == source)).first()
            return (row.etag, row.last_modified) if row else (None, None)

    def save_source_validators(self, source: str, etag: str | None, last_modified: str | None,
                               now: datetime) -> None:
        with self._write() as conn:
            n = conn.execute(source_state.update().where(source_state.c.source == source).values(
                etag=etag, last_modified=last_modified, updated_at=utc(now))).rowcount
            if not n:
                conn.execute(source_state.insert().values(source=source, etag=etag, last_modified=last_modified,
                                                          updated_at=utc(now)))

    def recent_paper_counts(self, source: str, n: int = 10) -> list[int]:
        """Paper counts of the source's last good captures: the baseline for "suspiciously short"."""
        with self._read() as conn:
            q = (sa.select(snapshots.c.paper_count)
                 .where(snapshots.c.source == source, snapshots.c.error.is_(None))
                 .order_by(snapshots.c.id.desc()).limit(n))
            return [int(r[0]) for r in conn.execute(q)]


def _match(p: Paper, title_key: str, by_arxiv: dict[str, Any], by_title: dict[str, Any]) -> Any:
    """The stored row a listed paper is (the identity rule): by arXiv id; else by folded title,
    unless both have arXiv ids (then they are different papers with the same title)."""
    row = by_arxiv.get(p.arxiv_id) if p.arxiv_id else None
    if row is None and title_key:
        cand = by_title.get(title_key)
        if cand is not None and (not p.arxiv_id or cand.arxiv_id is None):
            row = cand
    return row


def _field_sources(conn: Connection, ids: Sequence[int]) -> dict[tuple[int, str | None], str]:
    """Who gave each stored field: (paper id, field) -> source of its latest change, and
    (paper id, None) -> source of the paper's first snapshot (every field it had then)."""
    found: dict[tuple[int, str | None], str] = {}
    for chunk in chunks(sorted(set(ids)), 500):
        q = (sa.select(papers.c.id, snapshots.c.source)
             .select_from(papers.join(snapshots, snapshots.c.id == papers.c.first_snapshot_id))
             .where(papers.c.id.in_(chunk)))
        found.update({(r.id, None): r.source for r in conn.execute(q)})
        q = (sa.select(paper_updates.c.paper_id, paper_updates.c.field, snapshots.c.source)
             .select_from(paper_updates.join(snapshots, snapshots.c.id == paper_updates.c.snapshot_id))
             .where(paper_updates.c.paper_id.in_(chunk)).order_by(paper_updates.c.id))
        found.update({(r.paper_id, r.field): r.source for r in conn.execute(q)})
    return found
