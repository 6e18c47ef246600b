"""The store's connection: SQLite (WAL, busy timeout, ``BEGIN IMMEDIATE`` for writes) or any
other SQLAlchemy URL (PostgreSQL takes a transaction-scoped advisory lock for writes)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from paperdigest.errors import StoreError
from paperdigest.store.migrations import upgrade
from paperdigest.store.schema import meta

# PostgreSQL: the advisory lock every write transaction takes ("paperdig" in ASCII), see _make_engine.
PG_WRITE_LOCK = 0x7061706572646967

OPEN_ATTEMPTS = 6  # about 1.5 s of retries in all


class _Locked(Exception):
    """SQLite refused a lock without waiting while the store was being opened."""



class StoreBase:
    """Opening and closing the store, and its two kinds of transaction (the query mixins build on it)."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        # Threads of one process (the web app's) take turns for write transactions here, in
        # order, rather than in SQLite's busy handler, which polls with growing sleeps.
        self._write_lock = threading.RLock()
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
                upgrade(conn, create=create, where=self._safe_url())
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
        with self._write_lock, writer.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        with self._read() as conn:
            return int(conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar_one())
