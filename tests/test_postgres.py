"""The store, and whole runs, on a real PostgreSQL server.

Needs ``PAPERDIGEST_TEST_POSTGRES_URL``: a SQLAlchemy URL of a database the tests may create
schemas in, e.g. ``postgresql+psycopg://paperdigest:paperdigest@127.0.0.1:5432/paperdigest_test``
(``.ci/run`` starts a server and sets it). Unset, or no server answering: every test here is
skipped, and the skip says why.

Each test gets a schema of its own (``search_path`` in the URL), dropped afterwards, so tests
never see each other's rows and nothing else in the database is touched. The sessions also run
in a non-UTC time zone, so a datetime that comes back in the server's zone instead of UTC shows.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paperdigest.config import load_config
from paperdigest.errors import StoreError, one_line
from paperdigest.models import Listing, Match, Paper, RankedItem
from paperdigest.pipeline import ingest_capture, read_path_captures, run_digest
from paperdigest.store import SCHEMA_VERSION, IngestResult, Store, content_hash, metadata

from .clirun import ingest_first_listing, run_args, run_together, write_config, write_listings
from .conftest import BASE_CONFIG, NOW
from .test_pipeline import LISTING_A, LISTING_B, check_runs_once_then_nothing
from .test_semantic import check_vectors_round_trip

ENV = "PAPERDIGEST_TEST_POSTGRES_URL"
SESSION_TZ = "Asia/Kathmandu"  # +05:45: no datetime can be right by accident


@pytest.fixture(scope="module")
def pg_admin() -> Iterator[sa.Engine]:
    """An engine on the test database, or a skip saying why there is none."""
    import os

    url = os.environ.get(ENV, "").strip()
    if not url:
        pytest.skip(f"{ENV} is not set: no PostgreSQL server to test against (README: PostgreSQL)")
    try:
        parsed = sa.engine.make_url(url)
        args = {"connect_timeout": 5} if parsed.get_driver_name() in ("psycopg", "psycopg2") else {}
        engine = sa.create_engine(parsed, connect_args=args)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as e:  # noqa: BLE001 - a missing driver, a refused connection, bad auth: all skip
        pytest.skip(f"{ENV}: PostgreSQL unreachable: {one_line(f'{type(e).__name__}: {e}', 200)}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin: sa.Engine) -> Iterator[str]:
    """A URL whose sessions work in a fresh, empty schema of their own."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with pg_admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = pg_admin.url.update_query_dict({"options": f"-c search_path={schema} -c TimeZone={SESSION_TZ}"})
    yield url.render_as_string(hide_password=False)
    with pg_admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    with Store(pg_url) as s:
        yield s


@pytest.fixture
def pg_config(make_config: Callable[..., Path], pg_url: str) -> Path:
    """The shared test config (conftest.BASE_CONFIG) with its store on PostgreSQL."""
    sqlite = 'url = "sqlite:///state.db"'
    assert sqlite in BASE_CONFIG
    return make_config(base=BASE_CONFIG.replace(sqlite, f'url = "{pg_url}"'))


def paper(title: str, abstract: str = "An abstract of some length.", **kw: Any) -> Paper:
    return Paper(title=title, abstract=abstract, **kw)


def ingest(store: Store, papers: list[Paper], data: bytes, now: datetime = NOW) -> IngestResult:
    return store.ingest(Listing(papers), source="s", hash_=content_hash(data), captured=now, now=now)


def item(p: Paper, score: float = 1.0) -> RankedItem:
    return RankedItem(p, score, (Match("quantization", "title", score),))


def digest(store: Store, expected: int | None, new: int, items: list[tuple[int, Paper]],
           recipients: tuple[str, ...] = ("a@x.org",), profile: str = "p") -> Any:
    return store.create_digest(profile=profile, profile_title="P", expected_cursor=expected, new_cursor=new,
                               day=date(2026, 11, 25), now=NOW, new_papers=len(items), matched=len(items),
                               items=[(i, item(p)) for i, p in items], recipients=list(recipients))


def in_threads(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once (released together by a barrier); return results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def go(k: int) -> None:
        barrier.wait()
        try:
            results[k] = calls[k]()
        except Exception as e:  # noqa: BLE001 - handed to the test to assert on
            results[k] = e

    threads = [threading.Thread(target=go, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


# --------------------------------------------------------------------------- schema


def test_new_store_has_every_table_and_the_current_version(pg_url: str) -> None:
    with pytest.raises(StoreError, match="empty store"):
        Store(pg_url, create=False)
    with Store(pg_url) as s:
        assert s.schema_version() == SCHEMA_VERSION
        insp = sa.inspect(s.engine)
        assert set(insp.get_table_names()) == set(metadata.tables)
        first_seen = {c["name"]: c["type"] for c in insp.get_columns("papers")}["first_seen"]
        assert getattr(first_seen, "timezone", False), "datetimes must be stored with their zone"
        partial = [ix for ix in insp.get_indexes("snapshots") if ix["name"] == "ix_snapshots_ok_hash"]
        assert partial and partial[0]["unique"]
    with Store(pg_url, create=False) as s:  # opening an existing store changes nothing
        assert s.schema_version() == SCHEMA_VERSION


def test_store_from_schema_1_is_upgraded(pg_url: str) -> None:
    Store(pg_url).close()
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:  # make it look like a version-1 store
        conn.execute(sa.text("DROP TABLE source_state"))
        conn.execute(sa.text("ALTER TABLE snapshots DROP COLUMN warning"))
        conn.execute(sa.text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    engine.dispose()
    with Store(pg_url) as s:
        assert s.schema_version() == SCHEMA_VERSION
        s.save_source_validators("src", '"etag"', None, NOW)
        s.save_source_validators("src", '"etag2"', "Tue, 24 Nov 2026 07:00:00 GMT", NOW)
        assert s.source_validators("src") == ('"etag2"', "Tue, 24 Nov 2026 07:00:00 GMT")
        r = s.ingest(Listing([paper("Alpha")]), source="s", hash_=content_hash(b"x"), captured=None, now=NOW,
                     warning="short capture")
        assert r.new == 1
        assert rows(s, "SELECT warning FROM snapshots") == [("short capture",)]


def test_newer_store_is_refused(pg_url: str) -> None:
    with Store(pg_url) as s:
        with s.engine.begin() as conn:
            conn.execute(sa.text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(StoreError, match="newer than this paperdigest understands"):
        Store(pg_url)


# --------------------------------------------------------------------------- ingest and identity


def test_new_then_seen_then_duplicate(store: Store) -> None:
    a, b, c = paper("Alpha"), paper("Beta"), paper("Gamma")
    r1, r2, r3 = ingest(store, [a, b], b"one"), ingest(store, [b, c], b"two"), ingest(store, [b, c], b"two")
    assert (r1.papers, r1.new, r1.duplicate) == (2, 2, False)
    assert (r2.papers, r2.new, r2.duplicate) == (2, 1, False)
    assert (r3.new, r3.duplicate) == (0, True)
    assert store.paper_count() == 3 and store.is_duplicate(content_hash(b"two"))
    assert [p.title for _, p in store.papers_after(0)] == ["Alpha", "Beta", "Gamma"]
    assert list(r1.new_ids) + list(r2.new_ids) == [i for i, _ in store.papers_after(0)]
    # a failed input leaves a trace but is never a duplicate, even under a good capture's hash
    store.record_failure(source="bad.txt", hash_=content_hash(b"bad"), error="bad.txt: empty", now=NOW)
    store.record_failure(source="bad.txt", hash_=content_hash(b"bad"), error="bad.txt: empty", now=NOW)
    assert not store.is_duplicate(content_hash(b"bad"))
    assert ingest(store, [paper("Delta")], b"bad").new == 1


def test_title_seen_paper_gains_arxiv_id_and_stays_one_paper(store: Store) -> None:
    ingest(store, [paper("Sparse Experts, Dense Savings")], b"text")
    published = datetime(2026, 11, 20, 15, 30, tzinfo=timezone(timedelta(hours=-5)))
    r = ingest(store, [paper("Sparse experts - dense savings", arxiv_id="2511.01234", url="https://x.org/2511.01234",
                             authors=("A. Author", "B. Author"), published=published, upvotes=7)], b"feed")
    assert r.new == 0 and store.paper_count() == 1
    (_, p), = store.papers_after(0)
    assert (p.arxiv_id, p.authors, p.upvotes) == ("2511.01234", ("A. Author", "B. Author"), 7)
    # the same instant, handed back in UTC whatever the session's time zone
    assert p.published == published and p.published.utcoffset() == timedelta(0)
    ingest(store, [paper("Another One", arxiv_id="2511.09999")], b"feed2")
    assert ingest(store, [paper("another one!")], b"text2").new == 0
    assert store.paper_count() == 2


def test_vectors_round_trip_as_bytea(store: Store) -> None:
    check_vectors_round_trip(store)


def test_datetimes_come_back_in_utc(store: Store) -> None:
    later = NOW + timedelta(hours=3)
    ingest(store, [paper("Alpha"), paper("Beta")], b"one")
    ingest(store, [paper("Gamma")], b"two", now=later)
    assert store.first_paper_seen_since(later) == store.papers_after(0)[1][0]  # the cursor just before Gamma
    found = store.papers_after(0)
    rec = digest(store, None, found[-1][0], found)
    view = store.digest_view(rec.id)
    assert view.created == NOW and view.created.utcoffset() == timedelta(0)
    entries = store.feed_entries("p", max_items=10, since=NOW - timedelta(days=1))
    assert {e.added for e in entries} == {NOW} and all(e.added.utcoffset() == timedelta(0) for e in entries)
    recent = store.recent_papers(max_items=10, since=NOW + timedelta(hours=1))
    assert [(e.paper.title, e.added) for e in recent] == [("Gamma", later)]
    assert recent[0].added.utcoffset() == timedelta(0)


def test_text_sql_cannot_hold_is_dropped_not_fatal(store: Store) -> None:
    """A JSON feed can spell NUL (PostgreSQL text cannot hold it) or a lone surrogate (not UTF-8
    at all): the paper is kept without them, as every output shows it anyway."""
    r = ingest(store, [paper("Nul\x00 in the title", "An abstract \ud800with a lone surrogate.", url="https://x.org/\x00",
                             authors=("A.\x00 Author",), ai_summary="Sum\udfffmary")], b"feed")
    assert r.new == 1
    (_, p), = store.papers_after(0)
    assert (p.title, p.abstract, p.url, p.authors, p.ai_summary) == (
        "Nul in the title", "An abstract with a lone surrogate.", "https://x.org/", ("A. Author",), "Summary")
    assert ingest(store, [paper("Nul in the title")], b"again").new == 0  # same paper


def test_two_stores_ingesting_the_same_papers_at_once_store_each_once(pg_url: str) -> None:
    """Two runs at once over one PostgreSQL store: one knows papers by arXiv id, the other
    knows some of them by title only, and both know a few new ones by title only. Whichever
    order their transactions take, each paper is stored once and counted new once."""
    with Store(pg_url) as a, Store(pg_url) as b:
        for round_ in range(4):
            ks = range(round_ * 1000, round_ * 1000 + 300)
            by_id = [paper(f"Shared paper number {k}", arxiv_id=f"2511.{k:05d}") for k in ks]
            by_title = [paper(f"shared paper number {k}!") for k in ks[::3]]
            extra = [paper(f"Title only paper {round_}-{k}") for k in range(50)]
            r1, r2 = in_threads(lambda: ingest(a, by_id + extra, f"a{round_}".encode()),
                                lambda: ingest(b, by_title + extra, f"b{round_}".encode()))
            assert isinstance(r1, IngestResult) and isinstance(r2, IngestResult), (r1, r2)
            assert r1.new + r2.new == 350
            assert a.paper_count() == 350 * (round_ + 1)
            assert rows(a, "SELECT count(*) FROM papers WHERE arxiv_id IS NULL") == [(50 * (round_ + 1),)]
            assert rows(a, "SELECT count(DISTINCT title_key) FROM papers") == [(350 * (round_ + 1),)]
        # and again: both captures are now known, and every paper in them is old
        r1, r2 = in_threads(lambda: ingest(a, by_id, b"a-again"), lambda: ingest(b, by_title + extra, b"b-again"))
        assert (r1.new, r2.new, a.paper_count()) == (0, 0, 1400)


# --------------------------------------------------------------------------- exactly once


def test_digest_cursor_compare_and_set_between_two_stores(pg_url: str) -> None:
    with Store(pg_url) as a, Store(pg_url) as b:
        ingest(a, [paper("Alpha"), paper("Beta")], b"one")
        (i1, p1), (i2, p2) = a.papers_after(0)
        assert a.profile_cursor("p") is None and b.profile_cursor("p") is None  # both read "no cursor"
        rec = a.create_digest(profile="p", profile_title="P", expected_cursor=None, new_cursor=i2,
                              day=date(2026, 11, 25), now=NOW, new_papers=2, matched=1, items=[(i1, item(p1))],
                              recipients=["a@x.org", "a@x.org", "b@x.org"])
        assert rec is not None and rec.key == "p/2026-11-25" and rec.recipients == ("a@x.org", "b@x.org")
        assert digest(b, None, i2, [(i1, p1)]) is None  # the second run lost the race
        ingest(b, [paper("Gamma")], b"two")
        i3 = b.max_paper_id()
        assert i3 > i2
        # both runs now read cursor i2; the first to move it wins
        rec2 = digest(b, i2, i3, [(i3, paper("Gamma"))])
        assert rec2 is not None and rec2.key == "p/2026-11-25-2"
        assert digest(a, i2, i3, [(i3, paper("Gamma"))]) is None
        assert a.profile_cursor("p") == i3
        view = a.digest_view(rec.id)
        assert [i.paper.title for i in view.items] == ["Alpha"] and view.items[0].matches[0].term == "quantization"
        assert [r[:3] for r in a.delivery_status()] == [("p/2026-11-25", "a@x.org", "pending"),
                                                        ("p/2026-11-25", "b@x.org", "pending"),
                                                        ("p/2026-11-25-2", "a@x.org", "pending")]


@pytest.mark.parametrize("first", [True, False], ids=["first-digest", "later-digest"])
def test_digest_race_in_threads_makes_one_digest(pg_url: str, first: bool) -> None:
    """Both runs read the same cursor, then create at the same moment: one digest, no error."""
    with Store(pg_url) as a, Store(pg_url) as b:
        ingest(a, [paper(f"Paper {k}") for k in range(20)], b"one")
        found = a.papers_after(0)
        profiles = [f"p{k}" for k in range(6)]
        start_at = None if first else found[0][0]
        if not first:
            for name in profiles:
                assert digest(a, None, start_at, found[:1], profile=name) is not None
        rest = found if first else found[1:]
        for name in profiles:
            results = in_threads(lambda: digest(a, start_at, found[-1][0], rest, profile=name),
                                 lambda: digest(b, start_at, found[-1][0], rest, profile=name))
            assert not [r for r in results if isinstance(r, Exception)], results
            assert sum(r is not None for r in results) == 1, results
            assert a.profile_cursor(name) == found[-1][0]
        counts = rows(a, "SELECT profile, count(*) FROM digest_items GROUP BY profile ORDER BY profile")
        assert counts == [(name, len(found)) for name in profiles]


def test_claims_are_exclusive_across_stores_and_threads(pg_url: str) -> None:
    with Store(pg_url) as a, Store(pg_url) as b:
        ingest(a, [paper("Alpha")], b"one")
        (i1, p1), = a.papers_after(0)
        recipients = tuple(f"r{k}@x.org" for k in range(30))
        digest(a, None, i1, [(i1, p1)], recipients=recipients)
        host = socket.gethostname()
        one, two = f"{host}:1:run-a", f"{host}:1:run-b"  # pid 1 is alive: neither claim looks abandoned
        got = in_threads(lambda: a.claim_deliveries(one, NOW), lambda: b.claim_deliveries(two, NOW))
        assert not [g for g in got if isinstance(g, Exception)], got
        ids = [d.id for g in got for d in g]
        assert len(ids) == len(set(ids)) == len(recipients)
        first = got[0] or got[1]
        owner = one if got[0] else two
        a.mark_sent(first[0].id, owner, NOW, "smtp")
        b.mark_sent(first[1].id, "someone-else", NOW, "smtp")  # not the owner: no effect
        assert a.mark_failed(first[2].id, owner, "451 later", permanent=False) == "pending"
        status = Counter(s for _, _, s, _, _ in a.delivery_status())
        assert status == Counter({"sending": len(recipients) - 2, "sent": 1, "pending": 1})
        assert [d.recipient for d in b.claim_deliveries(two, NOW)] == [first[2].recipient]
        # a live owner keeps its claims until the lease runs out, then anyone may take them over
        assert a.claim_deliveries("other-host:5:x", NOW + timedelta(minutes=1)) == []
        assert len(a.claim_deliveries("other-host:5:x", NOW + timedelta(minutes=20))) == len(recipients) - 1


def test_blob_and_source_state_writers_at_once(pg_url: str) -> None:
    """Both runs find no row yet and insert one: no error, and the newer blob wins."""
    with Store(pg_url) as a, Store(pg_url) as b:
        for n in range(10):
            got = in_threads(lambda: a.save_blob(f"k{n}", "from a", 2), lambda: b.save_blob(f"k{n}", "from b", 1),
                             lambda: a.save_source_validators(f"src{n}", '"a"', None, NOW),
                             lambda: b.save_source_validators(f"src{n}", '"b"', None, NOW))
            assert not [g for g in got if isinstance(g, Exception)], got
            assert a.load_blob(f"k{n}") == ("from a", 2)  # the newer version, whatever the order
            assert b.source_validators(f"src{n}") in {('"a"', None), ('"b"', None)}


# --------------------------------------------------------------------------- whole runs


def test_shared_snapshots_counts_are_pinned(pg_config: Path, snapshot_files: list[Path]) -> None:
    cfg = load_config(pg_config)
    assert cfg.store_url.startswith("postgresql")
    with Store(cfg.store_url) as store:
        caps = read_path_captures([str(p) for p in snapshot_files], max_bytes=cfg.max_input_bytes, now=NOW)
        reports = [ingest_capture(store, c, output_dir=cfg.output_dir, now=NOW) for c in caps]
        assert [r.papers for r in reports] == [78, 85, 119]
        assert [r.new for r in reports] == [78, 66, 108]
        assert not any(r.error for r in reports)
        assert store.paper_count() == 78 + 66 + 108


def test_run_writes_digest_outbox_and_feeds_then_sends_nothing_twice(pg_config: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(LISTING_A)
    b.write_text(LISTING_B)
    cfg = load_config(pg_config)
    check_runs_once_then_nothing(lambda: run_digest(cfg, extra_snapshots=[str(a), str(b)], now=NOW).to_json(),
                                 tmp_path / "out")
    assert not list(tmp_path.glob("*.db")), "the run must not have fallen back to SQLite"


@pytest.mark.parametrize("existing", [False, True], ids=["fresh-store", "store-with-papers"])
def test_two_processes_at_once_send_each_email_once(pg_url: str, tmp_path: Path, existing: bool) -> None:
    """Two real ``paperdigest run`` processes on one PostgreSQL store (outbox delivery): on a
    fresh one both race to create the schema; on one with papers, for digests and claims."""
    config = write_config(tmp_path)
    text = config.read_text()
    config.write_text(text.replace('url = "sqlite:///state.db"', f'url = "{pg_url}"'))
    assert config.read_text() != text
    listings = write_listings(tmp_path)
    if existing:
        assert ingest_first_listing(config, listings) == 3
    for rc, out, err in run_together(tmp_path, run_args(config, listings), timeout=90):
        assert rc == 0 and "Traceback" not in err, err
        assert json.loads(out)["failed"] is False
    with Store(pg_url) as store:
        assert store.paper_count() == 4
        assert rows(store, "SELECT count(*) FROM snapshots WHERE error IS NULL") == [(2,)]
        full = rows(store, "SELECT d.profile, count(DISTINCT d.id), count(*) FROM digests d "
                           "JOIN digest_items i ON i.digest_id = d.id GROUP BY d.profile ORDER BY d.profile")
        assert full == [("graphs", 1, 1), ("inference", 1, 3)]  # each paper in one digest, once
        status = store.delivery_status()
    assert sorted((s[1], s[2]) for s in status) == [("alice@example.org", "sent"), ("bob@example.org", "sent"),
                                                   ("bob@example.org", "sent"), ("carol@example.org", "sent")]
    outbox = sorted(p.name for p in (tmp_path / "out" / "outbox").iterdir())
    assert len(outbox) == 4 and not list(tmp_path.glob("*.db"))


# --------------------------------------------------------------------------- a paper's life


def test_store_from_schema_2_gains_sightings(pg_url: str) -> None:
    with Store(pg_url) as s:
        ingest(s, [paper("Alpha"), paper("Beta")], b"one")
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:  # make it look like a version-2 store
        for stmt in ("DROP TABLE sightings", "DROP TABLE paper_updates", "ALTER TABLE papers DROP COLUMN updated_at",
                     "ALTER TABLE digest_items DROP COLUMN momentum",
                     "UPDATE meta SET value = '2' WHERE key = 'schema_version'"):
            conn.execute(sa.text(stmt))
    engine.dispose()
    with Store(pg_url) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert set(sa.inspect(s.engine).get_table_names()) == set(metadata.tables)
        ids = [i for i, _ in s.papers_after(0)]
        assert {i: r for i, r in s.readings(ids).items()} == {i: [(NOW, None)] for i in ids}
        updated = {c["name"]: c["type"] for c in sa.inspect(s.engine).get_columns("papers")}["updated_at"]
        assert getattr(updated, "timezone", False)


def test_a_papers_life(store: Store, pg_config: Path) -> None:
    """Title only, then filled in by another source, corrected by its own, refused values; read
    back in UTC, and ``show`` over all of it."""
    from paperdigest.pipeline.paperinfo import show_papers

    p = paper("Kelp Forest Census", "", arxiv_id="2611.40001", upvotes=3)
    r1 = store.ingest(Listing([p]), source="a", hash_=content_hash(b"1"), captured=None, now=NOW)
    later = NOW + timedelta(days=1)
    r2 = store.ingest(Listing([paper("Kelp forest census", "The abstract.", arxiv_id="2611.40001", upvotes=-4)]),
                      source="b", hash_=content_hash(b"2"), captured=None, now=later)
    r3 = store.ingest(Listing([paper("Kelp Forest Census, Revised", "", arxiv_id="2611.40001", upvotes=10**12)]),
                      source="a", hash_=content_hash(b"3"), captured=None, now=later + timedelta(hours=1))
    assert (r1.new, r2.new, r2.updated, r3.updated) == (1, 0, 1, 1)
    assert r2.warnings == ("b: 'Kelp forest census' (arXiv:2611.40001): upvotes -4 ignored (negative)",)
    (pid,) = store.find_papers("2611.40001")
    assert store.readings([pid])[pid] == [(NOW, 3), (later, None), (later + timedelta(hours=1), None)]
    ((_, got),) = store.papers_after(0)
    assert (got.title, got.abstract, got.upvotes) == ("Kelp Forest Census, Revised", "The abstract.", 3)
    report = show_papers(store, load_config(pg_config), "Kelp Forest Census, Revised", now=later)
    (info,) = report["papers"]
    assert [(c["field"], c["source"], c["previous"]) for c in info["changes"]] == [
        ("abstract", "b", None), ("title", "a", "Kelp Forest Census")]
    assert info["fields"]["abstract"]["at"] == later.isoformat()
