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

import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .errors import StoreError
from .models import DigestView, FeedEntry, Listing, Match, Paper, RankedItem

SCHEMA_VERSION = 2
# A claim on a delivery older than this is considered abandoned even if its owner is unknown.
CLAIM_LEASE = timedelta(minutes=15)
# Give up on an address after this many transient failures in a row.
MAX_ATTEMPTS = 8
# PostgreSQL: the advisory lock every write transaction takes ("paperdig" in ASCII), see _make_engine.
PG_WRITE_LOCK = 0x7061706572646967
# What no SQL text column can hold: NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8).
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")

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
)

# The lookups of the diff: prepared once, so a chunk of 500 keys is only bound, not re-built.
_PAPER_COLS = (papers.c.id, papers.c.arxiv_id, papers.c.title_key, papers.c.url, papers.c.authors,
               papers.c.published, papers.c.upvotes, papers.c.ai_summary)
_BY_ARXIV = sa.select(*_PAPER_COLS).where(papers.c.arxiv_id.in_(sa.bindparam("keys", expanding=True)))
_BY_TITLE = (sa.select(*_PAPER_COLS).where(papers.c.title_key.in_(sa.bindparam("keys", expanding=True)))
             .order_by(papers.c.id))

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


OPEN_ATTEMPTS = 6  # about 1.5 s of retries in all


class _Locked(Exception):
    """SQLite refused a lock without waiting while the store was being opened."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class IngestResult:
    source: str
    papers: int
    new: int
    duplicate: bool
    new_ids: tuple[int, ...] = ()
    snapshot_id: int | None = None


@dataclass(frozen=True)
class Delivery:
    id: int
    digest_id: int
    recipient: str
    attempts: int


@dataclass(frozen=True)
class DigestRecord:
    id: int
    key: str
    profile: str
    date: date
    markdown_path: str | None
    recipients: tuple[str, ...]


def paper_uid(paper: Paper, title_key: str | None = None) -> str:
    """The stable identity given to a paper on first sight (feed GUIDs derive from it)."""
    if paper.arxiv_id:
        return f"arxiv:{paper.arxiv_id}"
    key = paper.title_key if title_key is None else title_key
    return "title:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def content_hash(data: bytes) -> str:
    """Hash of a capture with encoding noise removed: a CRLF or BOM copy is the same capture."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(data).hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive, PostgreSQL in the session's time zone; every stored
    datetime is UTC, and is handed out in UTC."""
    if value is None:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _storable(p: Paper) -> Paper:
    """The paper without what SQL text cannot hold. A JSON feed can spell NUL or a lone
    surrogate; every output drops them anyway (flows.textsafe), so the store drops them too."""
    text = "".join((p.title, p.abstract, p.url or "", p.ai_summary or "", *p.authors))
    if "\x00" not in text:
        try:
            text.encode("utf-8")  # fails only on a surrogate; much faster than a regex search
            return p
        except UnicodeEncodeError:
            pass

    def clean(value: str) -> str:
        return _UNSTORABLE_RE.sub("", value)

    return replace(p, title=clean(p.title), abstract=clean(p.abstract), url=clean(p.url) if p.url else p.url,
                   ai_summary=clean(p.ai_summary) if p.ai_summary else p.ai_summary,
                   authors=tuple(clean(a) for a in p.authors))


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime passed to the store")
    return value.astimezone(timezone.utc)


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


# --------------------------------------------------------------------------- the store


class Store:
    """A handle on the store. Cheap to create; call :meth:`close` (or use ``with``)."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        try:
            self.engine = self._make_engine(url, create)
        except StoreError:
            raise
        except Exception as e:  # noqa: BLE001 - driver errors vary; the user gets one line
            raise StoreError(f"store {self._safe_url()}: cannot open: {e}") from None
        # SQLite answers "database is locked" without waiting in a few cases (another process
        # converting the file to WAL, or checkpointing it as it closes): opening is retried.
        for attempt in range(OPEN_ATTEMPTS):
            try:
                self._ensure_schema(create)
                return
            except _Locked:
                if attempt == OPEN_ATTEMPTS - 1:
                    raise StoreError(f"store {self._safe_url()}: database is locked") from None
                time.sleep(0.05 * 2 ** attempt)

    # -- setup ------------------------------------------------------------------------

    def _safe_url(self) -> str:
        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001
            return "<unparseable URL>"

    def _make_engine(self, url: str, create: bool) -> Engine:
        parsed = sa.engine.make_url(url)
        if parsed.get_backend_name() == "sqlite":
            db = parsed.database
            if db and db != ":memory:":
                folder = os.path.dirname(os.path.abspath(db))
                if create:
                    os.makedirs(folder, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": 30})

            @sa.event.listens_for(engine, "connect")
            def _connect(dbapi_conn: Any, _rec: Any) -> None:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA busy_timeout = 30000")
                # Switching to WAL needs an exclusive lock, once per database file; asking
                # only when needed keeps a second process from contending for it.
                if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
                # 64 MiB of page cache (SQLite's default is 2 MiB): a 10,000-paper transaction
                # dirties tens of MiB of table and index pages, and a small cache spills them to
                # the WAL mid-transaction, which made ingest slower the bigger the store.
                cur.execute("PRAGMA cache_size = -65536")
                cur.execute("PRAGMA foreign_keys = ON")
                cur.close()

            @sa.event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                immediate = conn.get_execution_options().get("immediate")
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

            return engine
        engine = sa.create_engine(url, pool_pre_ping=True)
        if parsed.get_backend_name() == "postgresql":
            # PostgreSQL runs READ COMMITTED, so two runs could both pass a "not there yet"
            # check (the schema, a capture's hash, a new paper, a profile's first cursor, a
            # blob) and then collide on a unique key, or store a paper twice when one run
            # knows it by arXiv id and the other by title only. A transaction-scoped advisory
            # lock gives write transactions the one-at-a-time order that BEGIN IMMEDIATE gives
            # on SQLite; reads never wait, and the lock goes with the transaction (or the
            # connection of a process that died).
            @sa.event.listens_for(engine, "begin")
            def _begin_pg(conn: Connection) -> None:
                if conn.get_execution_options().get("immediate"):
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")

        return engine

    def _ensure_schema(self, create: bool) -> None:
        try:
            with self._write() as conn:
                insp = sa.inspect(conn)
                tables = set(insp.get_table_names())
                if "meta" not in tables:
                    if tables & {"papers", "snapshots"}:
                        raise StoreError(f"store {self._safe_url()}: not a paperdigest store (no schema version)")
                    if not create:
                        raise StoreError(f"store {self._safe_url()}: empty store")
                    metadata.create_all(conn)
                    conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
                    return
                row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
                version = int(row[0]) if row else 0
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"store {self._safe_url()}: schema version {version} is newer than this "
                        f"paperdigest understands ({SCHEMA_VERSION}); upgrade paperdigest")
                if version < 1:
                    raise StoreError(f"store {self._safe_url()}: unknown schema version {version}")
                for v in range(version, SCHEMA_VERSION):
                    MIGRATIONS[v](conn)
                if version != SCHEMA_VERSION:
                    conn.execute(meta.update().where(meta.c.key == "schema_version")
                                 .values(value=str(SCHEMA_VERSION)))
        except StoreError:
            raise
        except sa.exc.OperationalError as e:
            if "locked" in str(e.orig):
                raise _Locked() from None
            raise StoreError(f"store {self._safe_url()}: {type(e).__name__}: {e.orig}") from None
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"store {self._safe_url()}: {type(e).__name__}: {e.orig if hasattr(e, 'orig') else e}") from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        writer = self.__dict__.get("_writer")
        if writer is None:
            writer = self._writer = self.engine.execution_options(immediate=True)
        with writer.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        with self._read() as conn:
            return int(conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar_one())

    # -- ingest -----------------------------------------------------------------------

    def is_duplicate(self, digest: str) -> bool:
        with self._read() as conn:
            q = sa.select(snapshots.c.id).where(snapshots.c.content_hash == digest, snapshots.c.error.is_(None))
            return conn.execute(q.limit(1)).first() is not None

    def ingest(self, listing: Listing, *, source: str, hash_: str, captured: datetime | None,
               now: datetime, warning: str | None = None) -> IngestResult:
        """Record one parsed capture and its papers in one transaction; report which are new."""
        now = _utc(now)
        items = [_storable(p) for p in listing.papers]
        with self._write() as conn:
            dup = conn.execute(sa.select(snapshots.c.id).where(
                snapshots.c.content_hash == hash_, snapshots.c.error.is_(None)).limit(1)).first()
            if dup is not None:
                return IngestResult(source, len(listing.papers), 0, True)
            snap_id = conn.execute(snapshots.insert().values(
                content_hash=hash_, source=source, format=listing.format,
                captured_at=_utc(captured) if captured else None, ingested_at=now,
                listing_date=listing.date, paper_count=len(listing.papers), new_count=0,
                warning=warning)).inserted_primary_key[0]  # type: ignore[index]
            new_ids = self._upsert_papers(conn, items, snap_id, now)
            conn.execute(snapshots.update().where(snapshots.c.id == snap_id).values(new_count=len(new_ids)))
        return IngestResult(source, len(listing.papers), len(new_ids), False, tuple(new_ids), snap_id)

    def record_failure(self, *, source: str, hash_: str | None, error: str, now: datetime) -> None:
        """Keep a trace of an input that could not be used (it never counts as a duplicate)."""
        with self._write() as conn:
            conn.execute(snapshots.insert().values(
                content_hash=hash_ or "-", source=source, ingested_at=_utc(now), paper_count=0,
                new_count=0, error=error))

    def _upsert_papers(self, conn: Connection, items: Sequence[Paper], snap_id: int, now: datetime) -> list[int]:
        by_arxiv: dict[str, Any] = {}
        by_title: dict[str, Any] = {}
        keys = [p.title_key for p in items]  # folding a title is the costliest step here: once per paper
        arxiv_ids = sorted({p.arxiv_id for p in items if p.arxiv_id})
        title_keys = sorted(set(keys))
        for chunk in _chunks(arxiv_ids, 500):
            for found in conn.execute(_BY_ARXIV, {"keys": list(chunk)}):
                by_arxiv[found.arxiv_id] = found
        for chunk in _chunks(title_keys, 500):
            for found in conn.execute(_BY_TITLE, {"keys": list(chunk)}):
                by_title.setdefault(found.title_key, found)

        seen_ids: list[int] = []
        fills: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        for p, title_key in zip(items, keys):
            row: Any = by_arxiv.get(p.arxiv_id) if p.arxiv_id else None
            if row is None:
                cand = by_title.get(title_key)
                if cand is not None and (not p.arxiv_id or cand.arxiv_id is None):
                    row = cand
            if row is not None:
                seen_ids.append(row.id)
                fill = _fill_missing(row, p)
                if fill:
                    fill["b_id"] = row.id
                    fills.append(fill)
                continue
            inserts.append({
                "uid": paper_uid(p, title_key), "arxiv_id": p.arxiv_id, "title_key": title_key, "title": p.title,
                "abstract": p.abstract, "url": p.url, "authors": json.dumps(list(p.authors)) if p.authors else None,
                "published": _utc(p.published) if p.published else None, "upvotes": p.upvotes,
                "ai_summary": p.ai_summary, "first_seen": now, "last_seen": now, "seen_count": 1,
                "first_snapshot_id": snap_id,
            })
        if seen_ids:
            stmt = papers.update().where(papers.c.id == sa.bindparam("b_id")).values(
                last_seen=now, seen_count=papers.c.seen_count + 1)
            conn.execute(stmt, [{"b_id": i} for i in seen_ids])
        for fill in fills:
            values = {k: v for k, v in fill.items() if k != "b_id"}
            conn.execute(papers.update().where(papers.c.id == fill["b_id"]).values(**values))
        new_ids: list[int] = []
        if inserts:
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
            new_ids = [id_by_uid[r["uid"]] for r in inserts]
        return new_ids

    # -- papers -----------------------------------------------------------------------

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
            return [(row.id, _paper(row)) for row in conn.execute(q)]

    def first_paper_seen_since(self, since: datetime) -> int:
        """The cursor that makes a new profile's first digest cover papers first seen since ``since``."""
        with self._read() as conn:
            q = sa.select(sa.func.min(papers.c.id)).where(papers.c.first_seen >= _utc(since))
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
                etag=etag, last_modified=last_modified, updated_at=_utc(now))).rowcount
            if not n:
                conn.execute(source_state.insert().values(source=source, etag=etag, last_modified=last_modified,
                                                          updated_at=_utc(now)))

    def recent_paper_counts(self, source: str, n: int = 10) -> list[int]:
        """Paper counts of the source's last good captures: the baseline for "suspiciously short"."""
        with self._read() as conn:
            q = (sa.select(snapshots.c.paper_count)
                 .where(snapshots.c.source == source, snapshots.c.error.is_(None))
                 .order_by(snapshots.c.id.desc()).limit(n))
            return [int(r[0]) for r in conn.execute(q)]

    # -- digests ----------------------------------------------------------------------

    def profile_cursor(self, profile: str) -> int | None:
        with self._read() as conn:
            return conn.execute(sa.select(profile_state.c.cursor)
                                .where(profile_state.c.profile == profile)).scalar_one_or_none()

    def create_digest(self, *, profile: str, profile_title: str, expected_cursor: int | None, new_cursor: int,
                      day: date, now: datetime, new_papers: int, matched: int, items: Sequence[tuple[int, RankedItem]],
                      recipients: Sequence[str], warnings: Sequence[str] = ()) -> DigestRecord | None:
        """Create a digest, its items and its owed deliveries, and move the profile's cursor.

        Returns None when another run moved the cursor first (it owns these papers).
        """
        now = _utc(now)
        with self._write() as conn:
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
                    "score": item.score, "added_at": now,
                    "matches": json.dumps([[m.term, m.where, m.contribution] for m in item.matches]),
                } for pos, (pid, item) in enumerate(items)])
            if recipients:
                conn.execute(deliveries.insert(), [
                    {"digest_id": digest_id, "recipient": r, "status": "pending", "attempts": 0}
                    for r in dict.fromkeys(recipients)])
        return DigestRecord(digest_id, key, profile, day, None, tuple(dict.fromkeys(recipients)))

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
                sa.select(papers, digest_items.c.score, digest_items.c.matches)
                .select_from(digest_items.join(papers, papers.c.id == digest_items.c.paper_id))
                .where(digest_items.c.digest_id == digest_id).order_by(digest_items.c.position)).all()
        items = tuple(RankedItem(_paper(r), float(r.score), _matches(r.matches)) for r in rows)
        return DigestView(digest_id=d.digest_key, profile_name=d.profile, profile_title=d.profile_title,
                          date=d.date, created=_aware(d.created_at) or datetime.now(timezone.utc),
                          new_papers=d.new_papers, matched=d.matched, items=items,
                          warnings=tuple(json.loads(d.warnings or "[]")))

    def feed_entries(self, profile: str, *, max_items: int, since: datetime) -> list[FeedEntry]:
        """The profile's rolling window: newest first, at most ``max_items``, none older than ``since``."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(papers, digest_items.c.score, digest_items.c.matches, digest_items.c.added_at)
                .select_from(digest_items.join(papers, papers.c.id == digest_items.c.paper_id))
                .where(digest_items.c.profile == profile, digest_items.c.added_at >= _utc(since))
                .order_by(digest_items.c.added_at.desc(), digest_items.c.id.desc()).limit(max_items)).all()
        return [FeedEntry(guid=f"{profile}/{r.uid}", paper=_paper(r), added=_aware(r.added_at) or since,
                          score=float(r.score), matches=_matches(r.matches)) for r in rows]

    def recent_papers(self, *, max_items: int, since: datetime) -> list[FeedEntry]:
        """The all-papers feed: every paper first seen in the window, unfiltered, newest first."""
        with self._read() as conn:
            rows = conn.execute(sa.select(papers).where(papers.c.first_seen >= _utc(since))
                                .order_by(papers.c.id.desc()).limit(max_items)).all()
        return [FeedEntry(guid=f"all/{r.uid}", paper=_paper(r), added=_aware(r.first_seen) or since) for r in rows]

    # -- deliveries -------------------------------------------------------------------

    def claim_deliveries(self, owner: str, now: datetime, digest_ids: Iterable[int] | None = None) -> list[Delivery]:
        """Claim every owed delivery (pending, or abandoned by a dead run) for ``owner``."""
        now = _utc(now)
        claimed: list[Delivery] = []
        with self._write() as conn:
            q = sa.select(deliveries).where(deliveries.c.status.in_(("pending", "sending")))
            if digest_ids is not None:
                q = q.where(deliveries.c.digest_id.in_(list(digest_ids)))
            for row in conn.execute(q.order_by(deliveries.c.digest_id, deliveries.c.id)).all():
                if row.status == "sending":
                    claimed_at = _aware(row.claimed_at)
                    stale = claimed_at is None or now - claimed_at > CLAIM_LEASE
                    if not stale and _owner_alive(row.claimed_by):
                        continue
                got = conn.execute(deliveries.update().where(
                    deliveries.c.id == row.id, deliveries.c.status == row.status,
                    deliveries.c.claimed_by.is_(None) if row.claimed_by is None else deliveries.c.claimed_by == row.claimed_by,
                ).values(status="sending", claimed_by=owner, claimed_at=now)).rowcount
                if got == 1:
                    claimed.append(Delivery(row.id, row.digest_id, row.recipient, row.attempts))
        return claimed

    def mark_sent(self, delivery_id: int, owner: str, now: datetime, channel: str) -> None:
        """One transaction per email, right after the server accepted it (a prepared statement:
        this runs once per email sent)."""
        with self._write() as conn:
            conn.execute(_MARK_SENT, {"m_id": delivery_id, "m_owner": owner, "m_at": _utc(now), "m_channel": channel})

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


# --------------------------------------------------------------------------- helpers

_MARK_SENT = (deliveries.update()
              .where(deliveries.c.id == sa.bindparam("m_id"), deliveries.c.claimed_by == sa.bindparam("m_owner"))
              .values(status="sent", sent_at=sa.bindparam("m_at"), channel=sa.bindparam("m_channel"),
                      last_error=None, attempts=deliveries.c.attempts + 1))


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _fill_missing(row: Any, p: Paper) -> dict[str, Any]:
    """Fields a later source knows that the first one did not (an arXiv id, authors, ...)."""
    fill: dict[str, Any] = {}
    if p.arxiv_id and not row.arxiv_id:
        fill["arxiv_id"] = p.arxiv_id
    if p.url and not row.url:
        fill["url"] = p.url
    if p.authors and not row.authors:
        fill["authors"] = json.dumps(list(p.authors))
    if p.published and not row.published:
        fill["published"] = _utc(p.published)
    if p.upvotes is not None and p.upvotes != row.upvotes:
        fill["upvotes"] = p.upvotes
    if p.ai_summary and not row.ai_summary:
        fill["ai_summary"] = p.ai_summary
    return fill


def _paper(row: Any) -> Paper:
    return Paper(title=row.title, abstract=row.abstract, arxiv_id=row.arxiv_id, url=row.url,
                 authors=tuple(json.loads(row.authors)) if row.authors else (),
                 published=_aware(row.published), upvotes=row.upvotes, ai_summary=row.ai_summary)


def _matches(text: str) -> tuple[Match, ...]:
    return tuple(Match(term, where, float(c)) for term, where, c in json.loads(text or "[]"))


# --------------------------------------------------------------------------- migrations


def _v1_to_v2(conn: Connection) -> None:
    """Schema 2 added conditional-GET state per source and a warning per snapshot."""
    cols = {c["name"] for c in sa.inspect(conn).get_columns("snapshots")}
    if "warning" not in cols:
        conn.execute(sa.text("ALTER TABLE snapshots ADD COLUMN warning TEXT"))
    source_state.create(conn, checkfirst=True)


MIGRATIONS = {1: _v1_to_v2}
