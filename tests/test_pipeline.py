"""A run's steps on real files and a real SQLite store, without Prefect."""

from __future__ import annotations

import email
import json
from email import policy
from collections.abc import Callable
from pathlib import Path

import pytest

from paperdigest.config import load_config
from paperdigest.pipeline import ingest_capture, read_path_captures, run_digest
from paperdigest.store import Store

from .conftest import NOW

ROOT = Path(__file__).resolve().parents[1]

LISTING_A = """new

Get trending papers in your email inbox!

Subscribe

byAK and the research community

Nov 24

Quantization Without Calibration Data for Small Language Models

We quantize small language models to four bits without any calibration data by matching weight statistics layer by layer. The quantized models keep their accuracy on reasoning benchmarks while using a third of the memory.

Speculative Decoding with Tiny Drafters

A tiny drafter proposes several tokens and the large model verifies them in parallel. Speculative decoding with our drafter doubles generation speed on long answers without changing the output distribution.

Gardens of Graphs: Message Passing for Botanical Taxonomy

We classify plant specimens from herbarium sheets with a graph neural network over leaf venation. The model reaches expert accuracy on eleven genera and explains its decisions with venation motifs.
"""

LISTING_B = """Get trending papers in your email inbox!
SubscribeMixture of Experts Routing by Token Difficulty
Routing each token to experts by an estimate of its difficulty lets a mixture of experts model spend compute where it matters. Easy tokens use one expert and hard tokens use four, which cuts inference cost by a third at equal quality.
Speculative Decoding with Tiny Drafters
A tiny drafter proposes several tokens and the large model verifies them in parallel. Speculative decoding with our drafter doubles generation speed on long answers without changing the output distribution.
"""


@pytest.fixture
def listings(tmp_path: Path) -> list[Path]:
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text(LISTING_A)
    b.write_text(LISTING_B)
    return [a, b]


def ingest_paths(config_path: Path, paths: list[Path]) -> list:
    cfg = load_config(config_path)
    with Store(cfg.store_url) as store:
        caps = read_path_captures([str(p) for p in paths], max_bytes=cfg.max_input_bytes, now=NOW)
        return [ingest_capture(store, c, output_dir=cfg.output_dir, now=NOW) for c in caps]


def test_shared_snapshots_counts_are_pinned(make_config, snapshot_files) -> None:
    reports = ingest_paths(make_config(), snapshot_files)
    assert [r.papers for r in reports] == [78, 85, 119]
    assert [r.new for r in reports] == [78, 66, 108]
    assert not any(r.error for r in reports)


def test_crlf_bom_copy_of_a_seen_listing_adds_nothing(make_config, snapshot_files, tmp_path: Path) -> None:
    copy = tmp_path / "copy.txt"
    copy.write_bytes(b"\xef\xbb\xbf" + snapshot_files[1].read_bytes().replace(b"\n", b"\r\n"))
    cfg = make_config()
    ingest_paths(cfg, snapshot_files)
    (r,) = ingest_paths(cfg, [copy])
    assert r.new == 0 and r.error is None


def test_own_listings_exact_counts_across_layouts(make_config, listings: list[Path]) -> None:
    reports = ingest_paths(make_config(), listings)
    assert [(r.papers, r.new) for r in reports] == [(3, 3), (2, 1)]


def test_bad_inputs_in_a_batch_each_get_an_error_and_good_ones_are_stored(make_config, listings, tmp_path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "random.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    html = tmp_path / "error.html"
    html.write_text("<!doctype html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>")
    chrome = tmp_path / "chrome.txt"
    chrome.write_text("new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nbyAK and the research community\n\nNov 24\n")
    emptydir = tmp_path / "nothing-here"
    emptydir.mkdir()
    inputs = [empty, listings[0], binary, html, tmp_path / "missing.txt", chrome, emptydir, listings[1]]
    reports = ingest_paths(make_config(), inputs)
    assert len(reports) == len(inputs)
    bad = [r for r in reports if r.error]
    assert [r.source for r in bad] == [str(p) for p in inputs if p not in listings]
    for r in bad:
        assert "\n" not in r.error and r.error.startswith(r.source), r.error
    assert [r.new for r in reports if not r.error] == [3, 1]


def test_oversize_input_is_refused_before_reading(make_config, listings) -> None:
    cfg = make_config("[limits]\nmax_input_bytes = 100\n")
    (r,) = ingest_paths(cfg, [listings[0]])
    assert r.error and "over the limit" in r.error


def run(config_path: Path, *snapshots: Path, now=NOW, **kw):
    return run_digest(load_config(config_path), extra_snapshots=[str(s) for s in snapshots], now=now, **kw)


def check_runs_once_then_nothing(run_once: Callable[[], dict], out: Path) -> tuple[dict, dict]:
    """Two runs over LISTING_A and LISTING_B with the test config (outbox, one profile of two
    recipients): the first digests and writes everything, the second owes nothing. Shared by
    the SQLite and the PostgreSQL tests; returns the two digests' JSON."""
    data = run_once()
    json.dumps(data)  # serializable
    (d,) = data["digests"]
    titles = [i["title"] for i in d["items"]]
    assert "Gardens of Graphs: Message Passing for Botanical Taxonomy" not in titles
    assert len(titles) == 3 and all(i["matched"] for i in d["items"])
    assert Path(d["markdown"]).exists() and Path(d["feed"]).exists() and Path(d["atom"]).exists()
    assert [e["status"] for e in d["emails"]] == ["outbox", "outbox"]
    outbox = sorted((out / "outbox").glob("*.eml"))
    assert len(outbox) == 2
    msg = email.message_from_bytes(outbox[0].read_bytes(), policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Subject"].startswith("[paperdigest] Efficient inference: 3 new papers")

    again = run_once()
    (d2,) = again["digests"]
    assert d2["items"] == [] and d2["emails"] == []
    assert len(list((out / "outbox").glob("*.eml"))) == 2
    assert Path(d2["markdown"]).name.endswith("-2.md")  # a second digest the same day gets its own file
    return d, d2


def test_run_writes_digest_outbox_and_feeds_then_sends_nothing_twice(make_config, listings, tmp_path) -> None:
    cfg = make_config()
    d, _ = check_runs_once_then_nothing(lambda: run(cfg, *listings).to_json(), tmp_path / "out")
    assert Path(d["markdown"]).exists()


def test_send_empty_sends_a_short_message_saying_why(make_config, listings, tmp_path) -> None:
    base = make_config().read_text().replace("max_items = 20", "max_items = 20\nsend_empty = true")
    cfg = make_config(base=base)
    run(cfg)  # nothing ingested at all
    (eml, _) = sorted((tmp_path / "out" / "outbox").glob("*.eml"))
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert "0 new papers" in msg["Subject"]
    assert "no new papers" in msg.get_body(("plain",)).get_content().lower()


def test_new_profile_backfills_recent_papers_only(make_config, listings) -> None:
    from datetime import timedelta

    cfg = make_config()
    ingest_paths(cfg, [listings[0]])  # seen at NOW
    base = cfg.read_text().replace('name = "inference"', 'name = "late"')
    late = make_config(base=base, name="late.toml")
    data = run(late, now=NOW + timedelta(days=3)).to_json()
    assert len(data["digests"][0]["items"]) == 2  # within backfill_days = 7
    base2 = cfg.read_text().replace('name = "inference"', 'name = "later"')
    later = make_config(base=base2, name="later.toml")
    data = run(later, now=NOW + timedelta(days=10)).to_json()
    assert data["digests"][0]["items"] == []


def test_year_of_a_page_date_comes_from_the_file_capture_time(make_config, listings) -> None:
    import os
    from datetime import datetime, timezone

    saved = datetime(2024, 11, 30, tzinfo=timezone.utc).timestamp()
    os.utime(listings[0], (saved, saved))  # a page saved in 2024, ingested in 2026
    cfg = load_config(make_config())
    (cap,) = read_path_captures([str(listings[0])], max_bytes=cfg.max_input_bytes, now=NOW)
    from paperdigest.pipeline import parse_capture

    assert parse_capture(cap).date.isoformat() == "2024-11-24"
    future = NOW.timestamp() + 86400 * 30
    os.utime(listings[0], (future, future))  # a clock-skewed file is never "captured" after now
    (cap,) = read_path_captures([str(listings[0])], max_bytes=cfg.max_input_bytes, now=NOW)
    assert cap.captured == NOW


def test_term_stats_from_an_older_text_analysis_are_rebuilt(make_config, listings: list[Path]) -> None:
    from paperdigest.pipeline import TERM_STATS_BLOB, term_stats
    from paperdigest.ranking import TermStats
    from paperdigest.ranking.textmatch import stem_key

    config_path = make_config()
    cfg = load_config(config_path)
    ingest_paths(config_path, listings)
    with Store(cfg.store_url) as store:
        first = term_stats(store)  # counts the 4 papers and saves
        assert first.n_docs == 4 and first.current
        # As a release before the analysis had a version would have saved them: wrong keys, no version.
        store.save_blob(TERM_STATS_BLOB, '{"version": 1, "n_docs": 4, "df": {"token": 4}}', 4)
        again = term_stats(store)
        assert again.current and again.n_docs == 4 and again.df == first.df
        assert again.df[stem_key("quantized")] == 1
        saved = TermStats.from_json(store.load_blob(TERM_STATS_BLOB)[0])
        assert saved.current and saved.df == first.df
