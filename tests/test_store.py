"""The store on a real SQLite file: ingest and diff, identity, exactly-once bookkeeping, upgrades."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperdigest.errors import StoreError
from paperdigest.models import Listing, Match, Paper, RankedItem
from paperdigest.store import SCHEMA_VERSION, Store, content_hash

from .conftest import NOW


def paper(title: str, abstract: str = "An abstract of some length.", **kw: object) -> Paper:
    return Paper(title=title, abstract=abstract, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def ingest(store: Store, papers: list[Paper], data: bytes, source: str = "s") -> object:
    return store.ingest(Listing(papers), source=source, hash_=content_hash(data), captured=NOW, now=NOW)


def test_new_then_seen_then_duplicate(store: Store) -> None:
    a, b, c = paper("Alpha"), paper("Beta"), paper("Gamma")
    r1 = ingest(store, [a, b], b"one")
    r2 = ingest(store, [b, c], b"two")
    r3 = ingest(store, [b, c], b"two")
    assert (r1.papers, r1.new, r1.duplicate) == (2, 2, False)
    assert (r2.papers, r2.new, r2.duplicate) == (2, 1, False)
    assert (r3.new, r3.duplicate) == (0, True)
    assert store.paper_count() == 3


def test_crlf_and_bom_copy_hash_the_same() -> None:
    assert content_hash(b"a\nb\n") == content_hash(b"\xef\xbb\xbfa\r\nb\r\n")


def test_title_seen_paper_gains_arxiv_id_and_stays_one_paper(store: Store) -> None:
    ingest(store, [paper("Sparse Experts, Dense Savings")], b"text")
    r = ingest(store, [paper("Sparse experts - dense savings", arxiv_id="2511.01234",
                             url="https://huggingface.co/papers/2511.01234", authors=("A. Author",))], b"feed")
    assert r.new == 0 and store.paper_count() == 1
    (_, p), = store.papers_after(0)
    assert p.arxiv_id == "2511.01234" and p.authors == ("A. Author",)
    # and the other way round: an arXiv paper later seen as page text
    ingest(store, [paper("Another One", arxiv_id="2511.09999")], b"feed2")
    assert ingest(store, [paper("another one!")], b"text2").new == 0


def test_failed_input_is_recorded_but_never_a_duplicate(store: Store) -> None:
    store.record_failure(source="bad.txt", hash_=content_hash(b"x"), error="bad.txt: empty", now=NOW)
    assert not store.is_duplicate(content_hash(b"x"))


def item(p: Paper, score: float = 1.0) -> RankedItem:
    return RankedItem(p, score, (Match("quantization", "title", score),))


def test_digest_cursor_compare_and_set(store: Store) -> None:
    ingest(store, [paper("Alpha"), paper("Beta")], b"one")
    (i1, p1), (i2, p2) = store.papers_after(0)
    rec = store.create_digest(profile="p", profile_title="P", expected_cursor=None, new_cursor=i2, day=date(2026, 11, 25),
                              now=NOW, new_papers=2, matched=1, items=[(i1, item(p1))], recipients=["a@x.org"])
    assert rec is not None and rec.key == "p/2026-11-25"
    # a second run that read the same (absent) cursor loses the race
    assert store.create_digest(profile="p", profile_title="P", expected_cursor=None, new_cursor=i2,
                               day=date(2026, 11, 25), now=NOW, new_papers=2, matched=1, items=[(i1, item(p1))],
                               recipients=["a@x.org"]) is None
    assert store.profile_cursor("p") == i2
    rec2 = store.create_digest(profile="p", profile_title="P", expected_cursor=i2, new_cursor=i2, day=date(2026, 11, 25),
                               now=NOW, new_papers=0, matched=0, items=[], recipients=[])
    assert rec2 is not None and rec2.key == "p/2026-11-25-2"
    view = store.digest_view(rec.id)
    assert [i.paper.title for i in view.items] == ["Alpha"]
    assert view.items[0].matches[0].term == "quantization" and view.created == NOW


def test_claims_are_exclusive_and_sent_only_after_mark(store: Store) -> None:
    ingest(store, [paper("Alpha")], b"one")
    (i1, p1), = store.papers_after(0)
    store.create_digest(profile="p", profile_title="P", expected_cursor=None, new_cursor=i1, day=date(2026, 11, 25),
                        now=NOW, new_papers=1, matched=1, items=[(i1, item(p1))], recipients=["a@x.org", "b@x.org"])
    import os, socket
    me = f"{socket.gethostname()}:{os.getpid()}:run1"
    first = store.claim_deliveries(me, NOW)
    assert len(first) == 2
    assert store.claim_deliveries(f"{socket.gethostname()}:{os.getpid()}:run2", NOW) == []  # live owner keeps them
    store.mark_sent(first[0].id, me, NOW, "smtp")
    assert store.mark_failed(first[1].id, me, "451 later", permanent=False) == "pending"
    statuses = {r[1]: r[2] for r in store.delivery_status()}
    assert statuses == {"a@x.org": "sent", "b@x.org": "pending"}
    again = store.claim_deliveries(me, NOW)
    assert [d.recipient for d in again] == ["b@x.org"]
    assert store.mark_failed(again[0].id, me, "550 no", permanent=True) == "failed"
    assert store.claim_deliveries(me, NOW) == []


def test_claim_of_a_dead_process_is_taken_over(store: Store) -> None:
    ingest(store, [paper("Alpha")], b"one")
    (i1, p1), = store.papers_after(0)
    store.create_digest(profile="p", profile_title="P", expected_cursor=None, new_cursor=i1, day=date(2026, 11, 25),
                        now=NOW, new_papers=1, matched=1, items=[(i1, item(p1))], recipients=["a@x.org"])
    import socket
    dead = f"{socket.gethostname()}:999999999:gone"
    assert len(store.claim_deliveries(dead, NOW)) == 1
    # the dead pid's claim on this host is free again: pid 1 (alive) takes it over
    assert len(store.claim_deliveries(f"{socket.gethostname()}:1:alive", NOW)) == 1
    # a live owner's fresh claim is respected ...
    assert store.claim_deliveries("other-host:5:x", NOW + timedelta(minutes=1)) == []
    # ... until its lease runs out
    assert len(store.claim_deliveries("other-host:5:x", NOW + timedelta(minutes=20))) == 1


def test_feed_window(store: Store) -> None:
    ingest(store, [paper(f"P{i}") for i in range(5)], b"one")
    rows = store.papers_after(0)
    store.create_digest(profile="p", profile_title="P", expected_cursor=None, new_cursor=rows[-1][0],
                        day=date(2026, 11, 25), now=NOW, new_papers=5, matched=5,
                        items=[(i, item(p)) for i, p in rows], recipients=[])
    entries = store.feed_entries("p", max_items=3, since=NOW - timedelta(days=30))
    assert len(entries) == 3 and len({e.guid for e in entries}) == 3
    assert store.feed_entries("p", max_items=10, since=NOW + timedelta(days=1)) == []
    assert len(store.recent_papers(max_items=100, since=NOW - timedelta(days=1))) == 5


def test_store_from_schema_1_is_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    s = Store(f"sqlite:///{db}")
    s.close()
    con = sqlite3.connect(db)  # make it look like a version-1 store
    con.execute("DROP TABLE source_state")
    con.execute("ALTER TABLE snapshots DROP COLUMN warning")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    s = Store(f"sqlite:///{db}")
    assert s.schema_version() == SCHEMA_VERSION
    s.save_source_validators("src", '"etag"', None, NOW)
    assert s.source_validators("src") == ('"etag"', None)
    cols = {c["name"] for c in sa.inspect(s.engine).get_columns("snapshots")}
    assert "warning" in cols
    s.close()


def test_newer_or_foreign_store_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    Store(f"sqlite:///{db}").close()
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer than this paperdigest understands"):
        Store(f"sqlite:///{db}")
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE papers (x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a paperdigest store"):
        Store(f"sqlite:///{foreign}")


def test_sqlite_runs_in_wal_mode(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_opening_retries_when_sqlite_refuses_a_lock_without_waiting(tmp_path: Path, monkeypatch) -> None:
    import paperdigest.store as fs

    real = fs.Store._ensure_schema
    calls = []

    def flaky(self, create):
        calls.append(1)
        if len(calls) < 3:
            raise fs._Locked()
        return real(self, create)

    monkeypatch.setattr(fs.Store, "_ensure_schema", flaky)
    Store(f"sqlite:///{tmp_path / 'a.db'}").close()
    assert len(calls) == 3
    monkeypatch.setattr(fs.Store, "_ensure_schema", lambda self, create: (_ for _ in ()).throw(fs._Locked()))
    monkeypatch.setattr(fs.base.time, "sleep", lambda s: None)
    with pytest.raises(StoreError, match="database is locked"):
        Store(f"sqlite:///{tmp_path / 'b.db'}")
