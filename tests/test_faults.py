"""Faults a run must survive: a misbehaving SMTP server, a failing disk, a failure in the
middle of a store transaction, and a batch of bad inputs through the command line.

SMTP: whatever the server does, each recipient ends with exactly one copy of each digest after
at most the next run, and an address refused for good neither blocks the others nor goes
unreported. The runs here call ``run_digest`` in process (fast); the exit-code contract is
checked once through the real console script.
"""

from __future__ import annotations

import errno
import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from paperdigest import files
from paperdigest.config import load_config
from paperdigest.models import Listing, Match, Paper, RankedItem
from paperdigest.pipeline import ingest_capture, read_path_captures, run_digest
from paperdigest.store import Store

from .clirun import LISTING_B, PROFILES, check_outcome, paperdigest, run_args, write_config, write_listings
from .conftest import NOW
from .smtp_server import SmtpTestServer
from .test_pipeline import LISTING_A

PAIRS = sum(len(r) for r in PROFILES.values())


def run(config: Path, listings: list[Path]) -> dict:
    return run_digest(load_config(config), extra_snapshots=[str(p) for p in listings], now=NOW).to_json()


def emails(report: dict) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(profile, recipient) -> (status, error) of this run's digests."""
    return {(d["profile"], e["to"]): (e["status"], e["error"]) for d in report["digests"] for e in d["emails"]}


# --------------------------------------------------------------------------- SMTP


def test_server_down_then_up(tmp_path: Path) -> None:
    srv = SmtpTestServer()  # its port is chosen but nothing listens yet
    config = write_config(tmp_path, srv.url)
    listings = write_listings(tmp_path)
    first = run(config, listings)
    assert first["failed"] is True
    statuses = emails(first)
    assert len(statuses) == PAIRS and {s for s, _ in statuses.values()} == {"failed"}
    assert all("connection refused" in (err or "") for _, err in statuses.values())
    with srv:
        second = run(config, listings)
        assert second["failed"] is False
        assert sorted(e["status"] for e in second["other_emails"]) == ["sent"] * PAIRS
        check_outcome(tmp_path, config, received=srv.received)


@pytest.mark.parametrize("stage, rcpt", [
    ("RCPT", "bob@example.org"),  # greylisting one address
    ("MAIL", None),  # the server is busy: the whole batch waits for the next run
    ("DATA", "alice@example.org"),  # refused after the data, for the first message of the batch
])
def test_4xx_then_accepting(stage: str, rcpt: str | None, tmp_path: Path) -> None:
    with SmtpTestServer() as srv:
        srv.reply(stage, "451 4.7.1 try again later", rcpt=rcpt, times=1)
        config = write_config(tmp_path, srv.url)
        listings = write_listings(tmp_path)
        first = run(config, listings)
        failed = {k: err for k, (s, err) in emails(first).items() if s == "failed"}
        assert first["failed"] is True and failed
        assert all("451" in (err or "") for err in failed.values())
        if rcpt:
            assert [to for _, to in failed] == [rcpt]  # the others went through
        else:
            assert len(failed) == PAIRS
        assert len(srv.received) == PAIRS - len(failed)
        second = run(config, listings)
        assert second["failed"] is False and len(second["other_emails"]) == len(failed)
        check_outcome(tmp_path, config, received=srv.received)


@pytest.mark.parametrize("hang_up", ["drop", "close_with"])
def test_connection_lost_after_data_is_resent_next_run(hang_up: str, tmp_path: Path) -> None:
    with SmtpTestServer() as srv:
        if hang_up == "drop":
            srv.drop("DATA", rcpt="bob@example.org", times=1)
        else:
            srv.close_with("421 4.3.2 shutting down", "DATA", rcpt="bob@example.org", times=1)
        config = write_config(tmp_path, srv.url)
        listings = write_listings(tmp_path)
        first = run(config, listings)
        assert emails(first)[("inference", "bob@example.org")][0] == "failed"
        # The rest of the batch went on over a new connection.
        assert len(srv.received) == PAIRS - 1 and srv.connections == 2
        run(config, listings)
        check_outcome(tmp_path, config, received=srv.received)


def test_5xx_for_one_address_is_reported_and_blocks_no_one(tmp_path: Path) -> None:
    """Through the real CLI: exit 1 and status "failed" with the server's reply; the others get theirs."""
    with SmtpTestServer() as srv:
        # alice is the first message of the batch: everything after her must still go.
        srv.reply("RCPT", "550 5.1.1 alice@example.org: no such mailbox", rcpt="alice@example.org", times=None)
        config = write_config(tmp_path, srv.url)
        listings = write_listings(tmp_path)
        first = paperdigest(tmp_path, run_args(config, listings))
        assert first.returncode == 1, first.stderr
        report = json.loads(first.stdout)
        assert report["failed"] is True
        status, error = emails(report)[("inference", "alice@example.org")]
        assert status == "failed" and "550 5.1.1" in error and "alice@example.org" in error
        assert "\n" not in error
        assert {k: s for k, (s, _) in emails(report).items() if s != "failed"} == {
            ("inference", "bob@example.org"): "sent", ("graphs", "bob@example.org"): "sent",
            ("graphs", "carol@example.org"): "sent"}
        assert sorted(r.rcpt_tos for r in srv.received) == [("bob@example.org",), ("bob@example.org",),
                                                            ("carol@example.org",)]
        assert "alice@example.org" in first.stderr and "Traceback" not in first.stderr

        # Refused for good: not tried again, and the next run has nothing to report.
        again = run(config, listings)
        assert again["failed"] is False and again["other_emails"] == []
        assert len(srv.received) == 3
        with Store(load_config(config).store_url) as store:
            rows = {(k.split("/")[0], to): s for k, to, s, *_ in store.delivery_status()}
        assert rows[("inference", "alice@example.org")] == "failed"
        assert sorted(rows.values()) == ["failed", "sent", "sent", "sent"]


def test_unexpected_error_mid_batch_hands_the_claims_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure that is no delivery error (here a bug while building one message) stops the
    run, but every claim goes back, the one in flight too, so a retry in the same process (as
    Prefect retries a task) sends them at once instead of waiting out the claim lease."""
    from paperdigest.delivery import emailmsg

    with SmtpTestServer() as srv:
        config = write_config(tmp_path, srv.url)
        listings = write_listings(tmp_path)
        real_bytes_for = emailmsg.DigestMail.bytes_for
        calls: list[str] = []

        def flaky_bytes_for(self, to):  # type: ignore[no-untyped-def]
            calls.append(to)
            if len(calls) == 2:
                raise RuntimeError("renderer bug")
            return real_bytes_for(self, to)

        monkeypatch.setattr(emailmsg.DigestMail, "bytes_for", flaky_bytes_for)
        with pytest.raises(RuntimeError, match="renderer bug"):
            run(config, listings)
        monkeypatch.undo()
        with Store(load_config(config).store_url) as store:
            assert [s for _, _, s, *_ in store.delivery_status()] == ["sent", "pending", "pending", "pending"]
        again = run(config, listings)  # same process, like a task retry
        assert again["failed"] is False and len(again["other_emails"]) == PAIRS - 1
        check_outcome(tmp_path, config, received=srv.received)


def test_disk_full_while_writing_the_outbox_hands_the_claims_back(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path)  # no smtp_url: the outbox
    listings = write_listings(tmp_path)
    real_write = files.atomic_write
    written: list[Path] = []

    def full_after_one(path: Path, data: bytes | str) -> Path:
        if path.parent.name == "outbox":
            if written:
                raise OSError(errno.ENOSPC, "No space left on device")
            written.append(path)
        return real_write(path, data)

    monkeypatch.setattr(files, "atomic_write", full_after_one)
    with pytest.raises(OSError, match="No space left"):
        run(config, listings)
    monkeypatch.undo()
    with Store(load_config(config).store_url) as store:
        assert [s for _, _, s, *_ in store.delivery_status()] == ["sent", "pending", "pending", "pending"]
    again = run(config, listings)  # same process, like a task retry
    assert again["failed"] is False and [e["status"] for e in again["other_emails"]] == ["outbox"] * (PAIRS - 1)
    check_outcome(tmp_path, config)


# --------------------------------------------------------------------------- disk


def _fail(exc: OSError):
    def raiser(*_a: object, **_k: object) -> None:
        raise exc
    return raiser


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_atomic_write_that_raises_keeps_the_old_file_and_no_temporary(where: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "feeds" / "inference.xml"
    files.atomic_write(target, "<old/>")
    full = OSError(errno.ENOSPC, "No space left on device")
    if where == "write":
        real_fdopen = os.fdopen

        class HalfThenFull:
            def __init__(self, f):  # type: ignore[no-untyped-def]
                self.f = f

            def __enter__(self):  # type: ignore[no-untyped-def]
                return self

            def __exit__(self, *exc: object) -> None:
                self.f.close()

            def write(self, data: bytes) -> None:
                self.f.write(data[: len(data) // 2])
                raise full

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfThenFull(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(os, where, _fail(full))
    with pytest.raises(OSError, match="No space left"):
        files.atomic_write(target, "<new>" * 10_000)
    monkeypatch.undo()
    assert target.read_text() == "<old/>"
    assert sorted(p.name for p in target.parent.iterdir()) == ["inference.xml"]


def test_atomic_write_of_a_new_file_that_raises_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "replace", _fail(OSError(errno.EIO, "Input/output error")))
    with pytest.raises(OSError):
        files.atomic_write(tmp_path / "digests" / "a.md", "# A\n")
    assert list((tmp_path / "digests").iterdir()) == []


def test_stale_temporary_of_a_killed_writer_is_swept(tmp_path: Path) -> None:
    """A run killed mid-write leaves a hidden temporary (tests/test_crash.py shows the target is
    untouched); the next write to that folder removes it once it is old, never a live one."""
    target = tmp_path / "all.xml"
    stale, live = tmp_path / ".all.xml.abc123.tmp", tmp_path / ".all.xml.def456.tmp"
    stale.write_text("<half")
    live.write_text("<being written")
    old = files.STALE_TEMP_SECONDS + 60
    os.utime(stale, (stale.stat().st_atime - old, stale.stat().st_mtime - old))
    files.atomic_write(target, "<new/>")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "all.xml"]


# --------------------------------------------------------------------------- store


def test_failure_mid_ingest_leaves_no_snapshot_and_no_papers(make_config, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(make_config())
    listing = tmp_path / "a.txt"
    listing.write_text(LISTING_A)
    original = Store._upsert_papers

    def upsert_then_fail(self, *args):  # type: ignore[no-untyped-def]
        original(self, *args)  # the snapshot, the papers and their sightings are written ...
        raise sqlite3.OperationalError("disk I/O error")  # ... and the transaction dies

    with Store(cfg.store_url) as store:
        (cap,) = read_path_captures([str(listing)], max_bytes=cfg.max_input_bytes, now=NOW)
        monkeypatch.setattr(Store, "_upsert_papers", upsert_then_fail)
        with pytest.raises(sqlite3.OperationalError):
            ingest_capture(store, cap, output_dir=cfg.output_dir, now=NOW)
        monkeypatch.undo()
        assert store.paper_count() == 0 and store.recent_paper_counts(str(listing)) == []
        # Nothing half-stored: the same capture is not a duplicate and goes in whole.
        report = ingest_capture(store, cap, output_dir=cfg.output_dir, now=NOW)
        assert (report.duplicate, report.new, store.paper_count()) == (False, 3, 3)


def test_failure_mid_digest_creation_moves_no_cursor_and_owes_nothing(tmp_path: Path) -> None:
    """The digest row is inserted before its items; an item that breaks the per-profile unique
    guard fails the insert, and the digest, the cursor move and the deliveries all roll back."""
    with Store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        listing = Listing(papers=[Paper(title="Tidal Energy Forecasts", abstract="We forecast tides. " * 4)],
                          format="text")
        (pid,) = store.ingest(listing, source="t.txt", hash_="t" * 64, captured=None, now=NOW).new_ids
        item = RankedItem(listing.papers[0], 1.0, (Match("tides", "abstract", 1.0),))
        with pytest.raises(Exception, match="UNIQUE"):
            store.create_digest(profile="p", profile_title="P", expected_cursor=None, new_cursor=pid,
                                day=NOW.date(), now=NOW, new_papers=1, matched=1, items=[(pid, item), (pid, item)],
                                recipients=["alice@example.org"])
        assert store.profile_cursor("p") is None and store.delivery_status() == []
        assert store.digests_without_markdown() == []
        record = store.create_digest(profile="p", profile_title="P", expected_cursor=None, new_cursor=pid,
                                     day=NOW.date(), now=NOW, new_papers=1, matched=1, items=[(pid, item)],
                                     recipients=["alice@example.org"])
        assert record is not None and record.key == "p/2026-11-25"  # not "-2": the first try left no row


# --------------------------------------------------------------------------- bad input, end to end


def bad_inputs(folder: Path) -> dict[str, Path]:
    """Every kind of bad listing, by name. All titles and abstracts are invented here."""
    folder.mkdir()
    head = "Get trending papers in your email inbox!\n\nSubscribe\n\n"
    orbital = ("Orbital Debris Tracking with Event Cameras\n\nEvent cameras see fast debris against the dark "
               "sky. We track fragments smaller than a centimetre at ten kilohertz with a tiny spiking network.\n\n")
    tidal = ("Tidal Energy Forecasts from Satellite Altimetry\n\nSatellite altimetry gives the sea surface "
             "height. We forecast tidal energy at twelve sites a week ahead with an error under five percent.\n")
    kinds: dict[str, bytes | str | None] = {
        "empty.txt": b"",
        "random.bin": random.Random(7).randbytes(3000),
        "error-page.html": "<!doctype html><html><head><title>502 Bad Gateway</title></head>"
                           "<body><h1>502 Bad Gateway</h1><hr><p>nginx</p></body></html>\n",
        "chrome-only.txt": "new\n\n" + head + "byAK and the research community\n\nNov 24\n",
        "cut-mid-abstract.txt": head + "Sparse Lattice Codes for Federated Telemetry\n\nWe compress federated "
                                "telemetry with sparse lattice codes so that each client sends a third of the",
        "abstract-without-title.txt": head + orbital + STRAY_ABSTRACT + tidal,
        "oversize.txt": head + orbital * 60,
        "missing.txt": None,
    }
    paths: dict[str, Path] = {}
    for name, data in kinds.items():
        paths[name] = folder / name
        if isinstance(data, str):
            paths[name].write_text(data, encoding="utf-8")
        elif data is not None:
            paths[name].write_bytes(data)
    paths["empty-folder"] = folder / "empty-folder"
    paths["empty-folder"].mkdir()
    return paths


STRAY_ABSTRACT = ("We measure the drift of moored buoys over a winter. A small model of wind and current "
                  "predicts it within a kilometre a day ahead.\n\n")
# Accepted, not errors: readable Latin-1 text, a paper listed twice (stored once), and a title
# alone between two papers (a paper listed before its abstract exists).
TITLE_ONLY = ("Get trending papers in your email inbox!\n\nSubscribe\n\n"
              "Orbital Debris Tracking with Event Cameras\n\nEvent cameras see fast debris against the dark "
              "sky. We track fragments smaller than a centimetre at ten kilohertz with a tiny spiking network.\n\n"
              "A Title Standing Alone Without Its Abstract\n\n"
              "Tidal Energy Forecasts from Satellite Altimetry\n\nSatellite altimetry gives the sea surface "
              "height. We forecast tidal energy at twelve sites a week ahead with an error under five percent.\n")
LATIN1 = ("Get trending papers in your email inbox!\n\nCaf\u00e9 Tables: Na\u00efve Bayes for R\u00e9sum\u00e9 Ranking\n\n"
          "We rank r\u00e9sum\u00e9s with a na\u00efve Bayes model trained on caf\u00e9 menus. The model is small "
          "enough to run on a phone and explains every decision it makes.\n")
TWICE = ("Get trending papers in your email inbox!\n\nKelp Forest Mapping from Drone Imagery\n\nWe map kelp "
         "canopies from drone imagery with a small segmentation network and track their seasonal change "
         "across four bays.\n\n") * 2


def test_batch_of_bad_inputs_through_the_cli(make_config, tmp_path: Path) -> None:
    config = make_config("[limits]\nmax_input_bytes = 6000\n")
    bad = bad_inputs(tmp_path / "in")
    good_a, good_b = tmp_path / "in" / "good-a.txt", tmp_path / "in" / "good-b.txt"
    good_a.write_text(LISTING_A)
    good_b.write_text(LISTING_B)
    latin1, twice = tmp_path / "in" / "latin1.txt", tmp_path / "in" / "twice.txt"
    title_only = tmp_path / "in" / "title-only.txt"
    latin1.write_bytes(LATIN1.encode("latin-1"))
    twice.write_text(TWICE)
    title_only.write_text(TITLE_ONLY)
    order = [bad["empty.txt"], good_a, bad["random.bin"], bad["error-page.html"], bad["chrome-only.txt"], latin1,
             bad["cut-mid-abstract.txt"], bad["abstract-without-title.txt"], title_only, twice, bad["oversize.txt"],
             bad["missing.txt"], bad["empty-folder"], good_b]
    result = paperdigest(tmp_path, ["ingest", "--config", str(config), "--json", *map(str, order)])

    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    data = json.loads(result.stdout)
    reports = {r["source"]: r for r in data["snapshots"]}
    assert list(reports) == [str(p) for p in order]  # one report per input, in the order given
    for path in bad.values():
        err = reports[str(path)]["error"]
        assert err and err.startswith(f"{path}: ") and "\n" not in err, (path, err)
        # ... and exactly one line on stderr names it
        named = [line for line in result.stderr.splitlines() if f"{path}:" in line]
        assert len(named) == 1 and named[0].startswith("paperdigest: "), (path, named)
    for path in (good_a, good_b, title_only):
        assert reports[str(path)]["error"] is None
    # Not clean, yet nothing lost: the papers are stored and the report says what was wrong.
    assert "not UTF-8" in reports[str(latin1)]["error"] and reports[str(latin1)]["error"].startswith(f"{latin1}: ")
    assert "repeats paper" in reports[str(twice)]["error"] and reports[str(twice)]["error"].startswith(f"{twice}: ")
    assert reports[str(bad["oversize.txt"])]["error"].endswith("(raise [limits] max_input_bytes to accept it)")
    # Complete papers around the abstract without a title are kept; the report still says why.
    assert "text without a title" in reports[str(bad["abstract-without-title.txt"])]["error"]
    assert reports[str(bad["abstract-without-title.txt"])]["papers"] == 2
    # A title alone between papers is a paper whose abstract is not yet available: no error.
    assert (reports[str(title_only)]["papers"], reports[str(title_only)]["new"]) == (3, 1)
    assert [reports[str(p)]["new"] for p in (good_a, good_b, latin1, twice)] == [3, 1, 1, 1]
    assert data["new_papers"] == 3 + 1 + 1 + 1 + 2 + 1

    with Store(load_config(config).store_url) as store:
        titles = sorted(p.title for _, p in store.papers_after(0))
    assert titles == sorted([
        "Quantization Without Calibration Data for Small Language Models", "Speculative Decoding with Tiny Drafters",
        "Gardens of Graphs: Message Passing for Botanical Taxonomy", "Mixture of Experts Routing by Token Difficulty",
        "Café Tables: Naïve Bayes for Résumé Ranking", "Kelp Forest Mapping from Drone Imagery",
        "Orbital Debris Tracking with Event Cameras", "Tidal Energy Forecasts from Satellite Altimetry",
        "A Title Standing Alone Without Its Abstract"])
