"""Two runs at once on the same store send nothing twice and corrupt nothing.

Two real ``paperdigest run`` processes start together with the same config and the same
listings, against one SMTP test server that answers DATA slowly (so one run is still sending
while the other looks for work). Repeated a few times, on a fresh store (both race to create
the schema) and on one that already holds papers (they race for the digest and the claims).
Real processes interleave by chance; the second test forces each worst interleaving in turn.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from paperdigest.pipeline import failpoints
from paperdigest.config import load_config
from paperdigest.pipeline import run_digest

from .clirun import (FAILPOINTS, check_outcome, ingest_first_listing, run_args, run_together, write_config, write_listings)
from .conftest import NOW
from .smtp_server import SmtpTestServer

ROUNDS = 3


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_runs_at_once_send_each_email_once(round_: int, tmp_path: Path) -> None:
    with SmtpTestServer() as srv:
        srv.stall("DATA", 0.15, times=None)
        config = write_config(tmp_path, srv.url)
        listings = write_listings(tmp_path)
        if round_ == 1:  # the store exists and already holds the first listing's papers
            assert ingest_first_listing(config, listings) == 3
        for rc, out, err in run_together(tmp_path, run_args(config, listings), timeout=60):
            assert rc == 0, err
            assert "Traceback" not in err and json.loads(out)["failed"] is False
        outcome = check_outcome(tmp_path, config, received=srv.received)
        assert set(outcome.copies.values()) == {1}

    # No profile got two digests for the same papers: one digest with items per profile, and
    # the loser of the race, if it ran after the winner, made only an empty one.
    with sqlite3.connect(tmp_path / "state.db") as con:
        full = con.execute("SELECT d.profile, count(DISTINCT d.id) FROM digests d JOIN digest_items i "
                           "ON i.digest_id = d.id GROUP BY d.profile ORDER BY d.profile").fetchall()
        snapshots = con.execute("SELECT count(*) FROM snapshots WHERE error IS NULL").fetchone()[0]
    assert full == [("graphs", 1), ("inference", 1)]
    assert snapshots == 2  # each listing stored once, whichever run got there first


def interleave(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str, *, earlier_day: bool) -> None:
    """Run A stops at ``point`` (the failpoint hook) while run B goes from start to end, then A
    carries on; both must succeed and every email arrive once."""
    with SmtpTestServer() as srv:
        config = write_config(tmp_path, srv.url)
        first, second = [str(p) for p in write_listings(tmp_path)]
        cfg = load_config(config)
        if earlier_day:  # the profiles have cursors and an earlier digest: the update path of the CAS
            assert run_digest(cfg, extra_snapshots=[first], now=NOW - timedelta(days=1)).failed is False
        b_ran: list[dict] = []

        def run_b_here(name: str) -> None:
            if name == point and not b_ran:
                b_ran.append({})  # before the run, so B's own failpoints do not start a third
                b_ran[0] = run_digest(cfg, extra_snapshots=[first, second], now=NOW).to_json()

        monkeypatch.setattr(failpoints, "failpoint", run_b_here)
        a = run_digest(cfg, extra_snapshots=[first, second], now=NOW).to_json()
        assert b_ran and a["failed"] is False and b_ran[0]["failed"] is False
        outcome = check_outcome(tmp_path, config, received=srv.received)
        assert set(outcome.copies.values()) == {1}


@pytest.mark.parametrize("point", FAILPOINTS)
def test_a_whole_run_in_between_at_every_point(point: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worst interleavings, made deterministic. At before-digest A has read the cursor and
    ranked, so only the compare-and-set stops a second digest for the same papers; from
    before-send on A holds live claims that B must leave alone."""
    interleave(tmp_path, monkeypatch, point, earlier_day=True)


def test_a_whole_run_in_between_on_a_new_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same race on a profile's very first digest (no cursor yet: the insert path)."""
    interleave(tmp_path, monkeypatch, "before-digest", earlier_day=False)
