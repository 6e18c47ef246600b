"""Live sources end to end without Prefect: ``run_digest`` with ``url`` sources served by a real
HTTP server on 127.0.0.1 (tests/http_server.py), into a real SQLite store.

Retries wait through an injected ``sleep`` that records its delays, so backoff and Retry-After
are checked exactly without the test sleeping.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import paperdigest
from paperdigest import pipeline
from paperdigest.cli import main
from paperdigest.config import load_config
from paperdigest.pipeline import RunReport, run_digest
from paperdigest.store import Store
from paperdigest.store import snapshots as snapshots_table

from .conftest import NOW
from .http_server import Reply, ScriptedServer, Seen

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "http"

# Each fixture with the content type a real server gives it, and what it holds.
FORMATS = {
    "api": ("hf_daily_papers.json", "application/json; charset=utf-8", "hf-api", 4),
    "jsonfeed": ("jsonfeed.json", "application/feed+json", "jsonfeed", 4),
    "rss": ("rss.xml", "application/rss+xml; charset=utf-8", "rss", 5),
    "atom": ("atom.xml", "application/atom+xml", "atom", 5),
    "html": ("listing.html", "text/html; charset=utf-8", "html", 4),
    "text": ("listing.txt", "text/plain; charset=utf-8", "text", 4),
}
JSON_FEED = {"Content-Type": "application/feed+json"}


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


def source_toml(name: str, url: str, **options: Any) -> str:
    lines = ["[[source]]", f'name = "{name}"', f'url = "{url}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def run(config_path: Path, delays: list[float] | None = None) -> RunReport:
    sleeps = delays if delays is not None else []
    return run_digest(load_config(config_path), now=NOW, sleep=sleeps.append)


def by_source(report: RunReport) -> dict[str, pipeline.InputReport]:
    return {s.source: s for s in report.snapshots}


def snapshot_rows(config_path: Path) -> list[Any]:
    cfg = load_config(config_path)
    with Store(cfg.store_url) as store, store.engine.connect() as conn:
        return list(conn.execute(sa.select(snapshots_table).order_by(snapshots_table.c.id)))


def invented_feed(first: int, count: int, *, sentinel: bool = False) -> bytes:
    """A JSON Feed of invented papers numbered ``first`` .. ``first + count - 1``."""
    items = [{
        "id": f"https://huggingface.co/papers/2611.{n:05d}",
        "url": f"https://huggingface.co/papers/2611.{n:05d}",
        "title": f"Quantization Recipe Number {n} for Compact Language Models",
        "content_text": (f"We describe quantization recipe {n}, which keeps four-bit weights accurate by "
                         f"calibrating per channel. It trims memory by {n % 50 + 10} percent on three "
                         "benchmarks without retraining."),
        "date_published": "2026-11-24T06:00:00Z",
    } for n in range(first, first + count)]
    if sentinel:
        items = [{"id": "1", "url": "https://example.invalid/", "title": "Something is wrong - feed not built today",
                  "content_text": "The scraper could not read the listing.",
                  "date_published": "2026-11-24T06:00:00Z"}]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "invented papers",
                       "items": items}).encode()


def archived(output_dir: Path) -> dict[str, bytes]:
    """Every archived capture: file name -> decompressed bytes."""
    return {p.name: gzip.decompress(p.read_bytes()) for p in sorted((output_dir / "archive").rglob("*.gz"))}


# --------------------------------------------------------------------------- formats


def test_every_format_is_fetched_detected_and_ingested(server, make_config) -> None:
    extra = ""
    for name, (fixture, ctype, _fmt, _n) in FORMATS.items():
        path = "/api/daily_papers" if name == "api" else f"/{fixture}"
        server.script(path, Reply(200, {"Content-Type": ctype}, (FIXTURES / fixture).read_bytes()))
        options = {"date": "2025-03-19", "limit": 50, "sort": "trending"} if name == "api" else {}
        extra += source_toml(name, server.url(path), **options)
    cfg = make_config(extra)

    report = run(cfg)

    got = by_source(report)
    assert [s.source for s in report.snapshots] == list(FORMATS)
    for name, (_fixture, _ctype, _fmt, count) in FORMATS.items():
        assert got[name].papers == count, (name, got[name])
        assert got[name].warning is None and not got[name].not_modified
    # Structured formats parse cleanly (the page text fixture carries page chrome the parser notes).
    assert all(got[n].error is None for n in FORMATS if n != "text")
    # The fixtures describe the same five papers (page text has no arXiv ids: matched by title).
    assert sum(s.new for s in report.snapshots) == 5
    assert {r.source: r.format for r in snapshot_rows(cfg)} == {n: f[2] for n, f in FORMATS.items()}

    api = server.requests_to("/api/daily_papers")
    assert len(api) == 1 and sorted(api[0].query.split("&")) == ["date=2025-03-19", "limit=50", "sort=trending"]
    for seen in server.requests:
        assert seen.headers["User-Agent"].startswith(f"paperdigest/{paperdigest.__version__}")
    assert Path(report.digests[0].markdown or "").exists()


def test_explicit_format_and_a_wrong_content_type_are_still_parsed(server, make_config) -> None:
    body = (FIXTURES / "jsonfeed.json").read_bytes()
    server.script("/sniffed", Reply(200, {"Content-Type": "text/html; charset=utf-8"}, body))
    server.script("/forced", Reply(200, {"Content-Type": "application/octet-stream"},
                                   (FIXTURES / "atom.xml").read_bytes()))
    cfg = make_config(source_toml("sniffed", server.url("/sniffed"))
                      + source_toml("forced", server.url("/forced"), format="atom"))

    report = run(cfg)

    got = by_source(report)
    assert (got["sniffed"].papers, got["sniffed"].error) == (4, None)
    assert (got["forced"].papers, got["forced"].error) == (5, None)
    assert {r.source: r.format for r in snapshot_rows(cfg)} == {"sniffed": "jsonfeed", "forced": "atom"}
    assert not report.failed


# --------------------------------------------------------------------------- conditional GET


def conditional(body: bytes, etag: str, modified: str) -> Callable[[Seen], Reply]:
    def respond(seen: Seen) -> Reply:
        if seen.headers.get("If-None-Match") == etag:
            return Reply(304, {"ETag": etag})
        return Reply(200, {**JSON_FEED, "ETag": etag, "Last-Modified": modified}, body)

    return respond


def test_unchanged_source_costs_no_parse_and_no_snapshot(server, make_config, monkeypatch) -> None:
    modified = "Tue, 24 Nov 2026 06:00:00 GMT"
    server.script("/feed", conditional(invented_feed(1, 6), '"v1"', modified))
    cfg = make_config(source_toml("hf", server.url("/feed")))

    first = run(cfg)
    assert by_source(first)["hf"].new == 6
    rows = len(snapshot_rows(cfg))

    def no_parse(cap: Any) -> Any:
        raise AssertionError(f"{cap.source} was parsed although unchanged")

    monkeypatch.setattr(pipeline.ingest, "parse_capture", no_parse)
    second = run(cfg)

    sent = server.requests_to("/feed")
    assert "If-None-Match" not in sent[0].headers
    assert (sent[1].headers["If-None-Match"], sent[1].headers["If-Modified-Since"]) == ('"v1"', modified)
    hf = by_source(second)["hf"]
    assert hf.not_modified and (hf.papers, hf.new, hf.error, hf.warning) == (0, 0, None, None)
    assert len(snapshot_rows(cfg)) == rows
    assert not second.failed
    assert by_source(second)["hf"].to_json()["not_modified"] is True


def test_validators_are_saved_only_after_a_successful_ingest(server, make_config) -> None:
    good = invented_feed(1, 5)
    server.script("/feed",
                  Reply(200, {**JSON_FEED, "ETag": '"bad"'}, b'{"version": "https://jsonfeed.org/version/1", "items": [{"id": 3}]'),
                  Reply(200, {**JSON_FEED, "ETag": '"good"'}, good),
                  Reply(304, {"ETag": '"good"'}))
    cfg = make_config(source_toml("hf", server.url("/feed")))

    broken = by_source(run(cfg))["hf"]
    assert broken.error and broken.error.startswith("hf")
    ok = by_source(run(cfg))["hf"]
    assert (ok.papers, ok.error) == (5, None)
    unchanged = by_source(run(cfg))["hf"]
    assert unchanged.not_modified

    sent = [r.headers.get("If-None-Match") for r in server.requests_to("/feed")]
    assert sent == [None, None, '"good"']  # the unparsable body's ETag was never sent back


# --------------------------------------------------------------------------- retries and failures


def test_429_waits_as_long_as_retry_after_says(server, make_config) -> None:
    server.script("/feed", Reply(429, {"Retry-After": "7"}), Reply(200, JSON_FEED, invented_feed(1, 3)))
    cfg = make_config(source_toml("hf", server.url("/feed")))
    delays: list[float] = []

    report = run(cfg, delays)

    assert delays == [7.0]  # not the 1 s backoff
    assert by_source(report)["hf"].new == 3 and not report.failed
    assert len(server.requests_to("/feed")) == 2


def test_500_then_200_succeeds_after_backoff(server, make_config) -> None:
    server.script("/feed", Reply(500), Reply(503), Reply(200, JSON_FEED, invented_feed(1, 3)))
    cfg = make_config(source_toml("hf", server.url("/feed")))
    delays: list[float] = []

    report = run(cfg, delays)

    assert delays == [pipeline.FETCH_BACKOFF, 2 * pipeline.FETCH_BACKOFF]
    assert by_source(report)["hf"].new == 3 and not report.failed


def test_persistent_5xx_gives_up_after_the_configured_attempts(server, make_config) -> None:
    server.script("/feed", Reply(502))
    cfg = make_config(source_toml("hf", server.url("/feed")))

    report = run(cfg)

    assert len(server.requests_to("/feed")) == pipeline.FETCH_ATTEMPTS
    assert "HTTP 502" in (by_source(report)["hf"].error or "") and report.failed


def test_stalled_source_fails_alone_with_a_one_line_error(server, make_config) -> None:
    body = invented_feed(1, 40)
    server.script("/slow", Reply(200, JSON_FEED, body, chunk_size=256, stall_after=512, stall=10))
    server.script("/fine", Reply(200, JSON_FEED, invented_feed(100, 4)))
    cfg = make_config(source_toml("slow", server.url("/slow"), timeout=0.3) + source_toml("fine", server.url("/fine")))
    delays: list[float] = []

    report = run(cfg, delays)

    got = by_source(report)
    error = got["slow"].error or ""
    assert error.startswith('source "slow": ') and "timed out" in error and "\n" not in error
    assert len(server.requests_to("/slow")) == pipeline.FETCH_ATTEMPTS and len(delays) == 2
    assert (got["fine"].new, got["fine"].error) == (4, None)
    assert report.failed and report.to_json()["failed"] is True
    assert report.digests[0].items  # the digest still went out with what did arrive


def test_oversize_body_fails_that_source_without_retrying(server, make_config) -> None:
    big = invented_feed(1, 60)
    server.script("/big", Reply(200, JSON_FEED, big, chunked=True))
    cfg = make_config(source_toml("big", server.url("/big")) + "\n[limits]\nmax_input_bytes = 4096\n")
    delays: list[float] = []

    report = run(cfg, delays)

    assert len(big) > 4096
    error = by_source(report)["big"].error or ""
    assert error.startswith('source "big": ') and "larger than 4096 bytes" in error
    assert len(server.requests_to("/big")) == 1 and delays == []
    assert report.failed


def test_cli_reports_a_404_without_retrying_and_exits_1(server, make_config) -> None:
    server.script("/ok", Reply(200, JSON_FEED, invented_feed(1, 4)))
    cfg = make_config(source_toml("gone", server.url("/gone")) + source_toml("ok", server.url("/ok")))

    result = CliRunner().invoke(main, ["run", "--config", str(cfg), "--without-prefect", "--json"],
                                catch_exceptions=False)

    assert result.exit_code == 1
    data = json.loads(result.stdout)
    snaps = {s["source"]: s for s in data["snapshots"]}
    assert snaps["gone"]["error"].startswith('source "gone": ') and "HTTP 404" in snaps["gone"]["error"]
    assert snaps["ok"] | {"new": 4, "error": None, "warning": None} == snaps["ok"]
    assert data["failed"] is True
    assert len(server.requests_to("/gone")) == 1  # a 404 is final: never retried


# --------------------------------------------------------------------------- suspicious captures


def test_broken_capture_is_flagged_in_the_report_and_the_digest_header(server, make_config) -> None:
    server.script("/feed", Reply(200, JSON_FEED, invented_feed(0, 0, sentinel=True)))
    cfg = make_config(source_toml("hf", server.url("/feed")))

    report = run(cfg)

    hf = by_source(report)["hf"]
    assert hf.papers == 0 and hf.error is None
    assert hf.warning and "looks broken" in hf.warning and "Something is wrong" in hf.warning
    assert report.to_json()["snapshots"][0]["warning"] == hf.warning
    header = Path(report.digests[0].markdown or "").read_text().split("\n## ", 1)[0]
    assert "> ⚠ The capture from source" in header and "looks broken" in header


def test_short_capture_against_the_recent_median_is_flagged(server, make_config) -> None:
    # Three ordinary days of 20 papers (each a different listing), then a day with 4.
    server.script("/feed", *[Reply(200, JSON_FEED, invented_feed(first, 20)) for first in (1, 11, 21)],
                  Reply(200, JSON_FEED, invented_feed(41, 4)))
    cfg = make_config(source_toml("hf", server.url("/feed")))

    normal = [by_source(run(cfg))["hf"] for _ in range(3)]
    assert [s.warning for s in normal] == [None, None, None]
    report = run(cfg)

    hf = by_source(report)["hf"]
    assert hf.papers == 4 and hf.new == 4 and hf.error is None
    assert hf.warning and "looks short: 4 papers where the recent median is 20" in hf.warning
    md = Path(report.digests[0].markdown or "").read_text()
    assert "looks short: 4 papers" in md.split("\n## ", 1)[0]
    assert not report.failed  # a warning, not a failure


def test_archive_holds_every_capture_compressed_by_sha256(server, make_config) -> None:
    bodies = [invented_feed(1, 5), invented_feed(1, 5), b"<html><body>no listing here</body></html>",
              invented_feed(0, 0, sentinel=True)]
    server.script("/a", Reply(200, JSON_FEED, bodies[0]))
    server.script("/b", Reply(200, JSON_FEED, bodies[1]))  # the same bytes: archived once
    server.script("/c", Reply(200, {"Content-Type": "text/html"}, bodies[2]))  # unparsable, archived anyway
    server.script("/d", Reply(200, JSON_FEED, bodies[3]))
    cfg = make_config("".join(source_toml(n, server.url(f"/{n}")) for n in "abcd"))

    report = run(cfg)

    got = by_source(report)
    assert got["b"].duplicate and got["c"].error and got["d"].warning
    out = load_config(cfg).output_dir
    files = archived(out)
    expected = {hashlib.sha256(b).hexdigest() + ".gz": b for b in bodies}
    assert files == expected
    for path in (out / "archive").rglob("*.gz"):
        assert path.parent.name == path.name[:2]
        assert path.read_bytes()[:2] == b"\x1f\x8b"


def test_broken_captures_do_not_lower_the_short_baseline(tmp_path) -> None:
    with Store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        def ingest(body: bytes) -> pipeline.InputReport:
            cap = pipeline.Capture(source="hf", captured=NOW, data=body)
            return pipeline.ingest_capture(store, cap, output_dir=tmp_path / "out", now=NOW)

        for first in (1, 21, 41):
            assert ingest(invented_feed(first, 20)).warning is None
        outages = [ingest(invented_feed(0, 0, sentinel=True) + b" " * n) for n in range(3)]  # 3 distinct bodies
        assert all(r.warning and "looks broken" in r.warning for r in outages)
        # 9 papers against the median of the good captures (20), not of everything (10).
        short = ingest(invented_feed(61, 9))
        assert short.warning and "9 papers where the recent median is 20" in short.warning
