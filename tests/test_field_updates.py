"""Details filled in later, corrections, refused values and the store's upgrade to sightings:
on a real SQLite file, through ``Store.ingest`` and the ``ingest`` command."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from paperdigest.cli import main
from paperdigest.config import load_config
from paperdigest.models import Listing, Paper
from paperdigest.store import SCHEMA_VERSION, Store, content_hash, paper_updates, papers, sightings

from .conftest import NOW


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def ingest(store: Store, source: str, *ps: Paper, hours: int = 0) -> Any:
    data = repr((source, ps, hours)).encode()
    return store.ingest(Listing(list(ps)), source=source, hash_=content_hash(data), captured=None,
                        now=NOW + timedelta(hours=hours))


def stored(store: Store, arxiv: str) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(papers).where(papers.c.arxiv_id == arxiv)).one()


def changes(store: Store) -> list[tuple[str, str | None]]:
    with store.engine.connect() as conn:
        return [(r.field, r.previous) for r in conn.execute(sa.select(paper_updates).order_by(paper_updates.c.id))]


# --------------------------------------------------------------------------- fills and corrections


def test_a_source_corrects_itself_and_another_only_fills(store: Store) -> None:
    first = Paper("Kelp Forest Census", "Version one of the abstract.", arxiv_id="2611.20001")
    assert ingest(store, "feed-a", first).new == 1
    # Another source spells it differently: nothing it has overwrites; what is missing is filled.
    other = Paper("Kelp forest census!", "A differently worded abstract.", arxiv_id="2611.20001",
                  authors=("Ada Invented",), url="https://example.org/kelp")
    r = ingest(store, "feed-b", other, hours=1)
    assert (r.new, r.updated) == (0, 1)
    row = stored(store, "2611.20001")
    assert (row.title, row.abstract, json.loads(row.authors), row.url) == (
        "Kelp Forest Census", "Version one of the abstract.", ["Ada Invented"], "https://example.org/kelp")
    assert row.updated_at is not None
    # The first source corrects its own title and abstract.
    fixed = Paper("Kelp Forest Census, Revised", "Version two of the abstract.", arxiv_id="2611.20001")
    r = ingest(store, "feed-a", fixed, hours=2)
    assert (r.new, r.updated) == (0, 1)
    row = stored(store, "2611.20001")
    assert (row.title, row.abstract) == ("Kelp Forest Census, Revised", "Version two of the abstract.")
    assert store.find_papers("kelp forest census revised") == [row.id] and store.find_papers("Kelp Forest Census") == []
    assert changes(store) == [("authors", None), ("url", None), ("title", "Kelp Forest Census"),
                              ("abstract", "Version one of the abstract.")]
    # A capture without the abstract, or the same values again, changes nothing.
    r = ingest(store, "feed-a", Paper("Kelp Forest Census, Revised", arxiv_id="2611.20001"), hours=3)
    assert (r.new, r.updated) == (0, 0)
    assert stored(store, "2611.20001").abstract == "Version two of the abstract."
    assert len(changes(store)) == 4


def test_a_title_known_paper_is_never_retitled(store: Store) -> None:
    """Without an arXiv id the title is the identity: a new title is a new paper."""
    ingest(store, "text", Paper("Moss Carbon Uptake in Winter", "An abstract."))
    r = ingest(store, "text", Paper("Moss Carbon Uptake in Spring", "An abstract."), hours=1)
    assert r.new == 1 and store.paper_count() == 2


def test_upvotes_are_readings_and_no_update(store: Store) -> None:
    ingest(store, "api", Paper("Sand Dune Migration", "An abstract.", arxiv_id="2611.20002", upvotes=3))
    r = ingest(store, "html", Paper("Sand Dune Migration", "An abstract.", arxiv_id="2611.20002", upvotes=9), hours=1)
    row = stored(store, "2611.20002")
    assert (r.updated, row.upvotes, row.updated_at) == (0, 9, None)  # the feed entry is not "updated"
    r = ingest(store, "feed", Paper("Sand Dune Migration", "An abstract.", arxiv_id="2611.20002"), hours=2)
    assert stored(store, "2611.20002").upvotes == 9  # a source without upvotes erases none
    with store.engine.connect() as conn:
        got = conn.execute(sa.select(sightings.c.upvotes).order_by(sightings.c.snapshot_id)).scalars().all()
    assert got == [3, 9, None]


# --------------------------------------------------------------------------- refused values


def _api(*ps: dict[str, Any]) -> bytes:
    return json.dumps([{"paper": dict({"publishedAt": "2026-11-20T06:00:00Z"}, **p)} for p in ps]).encode()


def _p(n: int, title: str, upvotes: Any = 1, **kw: Any) -> dict[str, Any]:
    return dict({"id": f"2611.3000{n}", "title": title, "summary": f"An abstract about {title.lower()}.",
                 "upvotes": upvotes}, **kw)


def test_absurd_values_are_refused_with_a_warning_naming_the_capture(make_config, tmp_path: Path) -> None:
    cfg = make_config()
    one, two, three = tmp_path / "api-1.json", tmp_path / "api-2.json", tmp_path / "feed-3.json"
    one.write_bytes(_api(_p(1, "Glacier Melt Sensors", 12), _p(2, "Urban Bat Acoustics", 7),
                         _p(4, "Kelp Census From Orbit", 2)))
    two.write_bytes(_api(_p(1, "Glacier Melt Sensors", -5), _p(2, "Urban Bat Acoustics", 10**12),
                         _p(3, "Orchard Frost Drones", 3, publishedAt="2031-01-01T00:00:00Z"),
                         _p(4, "\u2014 ? \u2014", 4), _p(5, "???", 1)))
    three.write_bytes(json.dumps({"version": "https://jsonfeed.org/version/1", "items": [
        {"id": "https://huggingface.co/papers/2611.30004", "title": "", "content_text": "An abstract."}]}).encode())
    runner = CliRunner()
    env = {"PAPERDIGEST_NOW": NOW.isoformat()}
    first = runner.invoke(main, ["ingest", "--config", str(cfg), "--json", str(one)], env=env)
    assert first.exit_code == 0 and json.loads(first.stdout)["snapshots"][0]["warnings"] == []
    result = runner.invoke(main, ["ingest", "--config", str(cfg), "--json", str(two)], env=env)
    assert result.exit_code == 0, result.output  # refused values are warnings, not failed inputs
    (snap,) = json.loads(result.stdout)["snapshots"]
    assert (snap["papers"], snap["new"], snap["error"], snap["warning"]) == (5, 1, None, None)
    assert snap["warnings"] == [
        f"{two}: 'Glacier Melt Sensors' (arXiv:2611.30001): upvotes -5 ignored (negative)",
        f"{two}: 'Urban Bat Acoustics' (arXiv:2611.30002): upvotes 1000000000000 ignored (over 1,000,000)",
        f"{two}: 'Orchard Frost Drones' (arXiv:2611.30003): date 2031-01-01 ignored (in the future)",
        f"{two}: '\u2014 ? \u2014' (arXiv:2611.30004): a title without a letter or digit ignored",
        f"{two}: '???' (arXiv:2611.30005): a title without a letter or digit: not stored",
    ]
    # The empty title of a JSON Feed item never reaches the store: the item is refused, named.
    bad = runner.invoke(main, ["ingest", "--config", str(cfg), "--json", str(three)], env=env)
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["snapshots"][0]["error"] == f"{three}: no paper in this JSON Feed: item 1 has no title: skipped"

    with Store(load_config(cfg).store_url) as store:
        rows = {r.arxiv_id: r for r in store.engine.connect().execute(sa.select(papers))}
        assert (rows["2611.30001"].upvotes, rows["2611.30002"].upvotes) == (12, 7)  # good data kept
        assert rows["2611.30003"].published is None and rows["2611.30003"].upvotes == 3
        assert rows["2611.30004"].title == "Kelp Census From Orbit" and rows["2611.30004"].upvotes == 4
        assert "2611.30005" not in rows
        got = dict(store.engine.connect().execute(
            sa.select(sightings.c.paper_id, sightings.c.upvotes).where(sightings.c.snapshot_id == 2)).all())
        assert got == {rows["2611.30001"].id: None, rows["2611.30002"].id: None, rows["2611.30003"].id: 3,
                       rows["2611.30004"].id: 4}


# --------------------------------------------------------------------------- upgrade


def test_store_from_schema_2_gains_sightings_of_its_papers(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with Store(f"sqlite:///{db}") as s:
        s.ingest(Listing([Paper("Lichen Growth Rates", "An abstract.")]), source="a", hash_="1" * 64,
                 captured=None, now=NOW)
        s.ingest(Listing([Paper("Lichen Growth Rates", "An abstract."), Paper("River Delta Sediment", "An abstract.")]),
                 source="a", hash_="2" * 64, captured=None, now=NOW + timedelta(days=1))
    con = sqlite3.connect(db)  # make it look like a version-2 store
    for stmt in ("DROP TABLE sightings", "DROP TABLE paper_updates", "ALTER TABLE papers DROP COLUMN updated_at",
                 "ALTER TABLE digest_items DROP COLUMN momentum",
                 "UPDATE meta SET value = '2' WHERE key = 'schema_version'"):
        con.execute(stmt)
    con.commit()
    con.close()
    with Store(f"sqlite:///{db}") as s:
        assert s.schema_version() == SCHEMA_VERSION == 5
        ids = {p.title: i for i, p in s.papers_after(0)}
        # Only each paper's first sighting was known before the upgrade.
        assert {pid: [t for t, _ in r] for pid, r in s.readings(list(ids.values())).items()} == {
            ids["Lichen Growth Rates"]: [NOW], ids["River Delta Sediment"]: [NOW + timedelta(days=1)]}
        r = s.ingest(Listing([Paper("Lichen Growth Rates", "A better abstract.")]), source="a", hash_="3" * 64,
                     captured=None, now=NOW + timedelta(days=2))
        assert (r.new, r.updated) == (0, 1)
        assert len(s.readings([ids["Lichen Growth Rates"]])[ids["Lichen Growth Rates"]]) == 2
