"""A run killed with SIGKILL at any point, then run again, ends with every owed email sent once
and every file complete.

Each scenario runs the real console script in its own folder with
``PAPERDIGEST_FAILPOINT=<point>`` (the process SIGKILLs itself there, as the OOM killer or a
power cut would), checks that what the killed run left is whole, then runs again with
``run_digest`` in this process (the steps ``run --without-prefect`` runs, without a second
interpreter start-up). The scenarios run side by side in threads, each with its own SMTP test
server, to stay within the time budget.

The one window that cannot be closed: over SMTP, a kill after the server accepted a message
but before the store marked it sent (``after-send``) is resolved by sending it again, with the
same Message-ID, so the reader's mail client shows it once. At that point exactly one
(digest, recipient) arrives twice; everywhere else, and always with the outbox (one file per
(digest, recipient)), exactly once.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from paperdigest.config import load_config
from paperdigest.pipeline import run_digest

from .clirun import (
    FAILPOINTS,
    PROFILES,
    check_files_complete,
    check_outcome,
    integrity_ok,
    paperdigest,
    run_args,
    temp_files,
    write_config,
    write_listings,
)
from .conftest import NOW
from .smtp_server import SmtpTestServer

# How many of the 4 messages (2 profiles x 2 recipients) the killed run got out, and how many of
# the 6 feed files (2 profiles + all, RSS and Atom) it wrote.
KILLED_RUN_LEFT = {
    "after-ingest": (0, 0),
    "before-digest": (0, 0),
    "before-markdown": (0, 0),
    "after-markdown-write": (0, 0),
    "before-send": (0, 0),
    "after-send": (1, 0),
    "after-mark": (1, 0),
    "before-feeds": (4, 0),
    "mid-feeds": (4, 1),
}
# The outbox differs from SMTP only in delivery, so it is killed only there.
POINTS = {"smtp": FAILPOINTS, "outbox": ("before-send", "after-send", "after-mark")}
PAIRS = sum(len(r) for r in PROFILES.values())


def scenario(folder: Path, point: str, mode: str) -> str | None:
    """Kill a run at ``point``, run again, check everything; return what went wrong, or None."""
    folder.mkdir()
    srv = SmtpTestServer().start() if mode == "smtp" else None
    try:
        config = write_config(folder, srv.url if srv else None)
        listings = write_listings(folder)
        killed = paperdigest(folder, run_args(config, listings), PAPERDIGEST_FAILPOINT=point)
        assert killed.returncode == -signal.SIGKILL, f"not killed at {point}: rc {killed.returncode} {killed.stderr}"
        assert killed.stdout == ""  # killed before it could print a report
        sent, feeds = KILLED_RUN_LEFT[point]
        got = len(srv.received) if srv else len(list((folder / "out" / "outbox").glob("*.eml")))
        assert got == sent, f"the killed run sent {got}, expected {sent}"
        out = folder / "out"
        written = len(list((out / "feeds").glob("*"))) if (out / "feeds").exists() else 0
        assert written == feeds, f"the killed run wrote {written} feed files, expected {feeds}"
        check_files_complete(out)  # whatever the kill left on disk is whole, never half a file
        integrity_ok(folder / "state.db")

        # The next run: in this process (the same steps as `run --without-prefect`, without a
        # second interpreter start-up); the killed process's claims are taken over.
        report = run_digest(load_config(config), extra_snapshots=[str(p) for p in listings], now=NOW)
        assert report.failed is False, report.to_json()
        outcome = check_outcome(folder, config, received=srv.received if srv else None,
                                resent_ok=1 if (mode == "smtp" and point == "after-send") else 0)
        twice = [p for p, n in outcome.copies.items() if n == 2]
        if mode == "smtp" and point == "after-send":
            # The message in flight when the run died, and only it, arrived twice, identically.
            assert len(twice) == 1, outcome.copies
            first, second = [r for r in srv.received if r.rcpt_tos == (twice[0][1],)
                             and r.message_id == outcome.pairs[twice[0]]]
            assert first.data == second.data
        else:
            assert twice == [] and sum(outcome.copies.values()) == PAIRS
        return None
    except AssertionError as e:
        return f"{mode} {point}: {e}"
    finally:
        if srv:
            srv.stop()


@pytest.mark.parametrize("mode", ["smtp", "outbox"])
def test_killed_at_every_failpoint_then_run_again(mode: str, tmp_path: Path) -> None:
    assert set(KILLED_RUN_LEFT) == set(FAILPOINTS)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda p: scenario(tmp_path / p, p, mode), POINTS[mode]))
    failures = [r for r in results if r]
    assert not failures, "\n".join(failures)


def test_every_failpoint_in_the_code_is_killed_at() -> None:
    from paperdigest import pipeline

    code = "".join(p.read_text() for p in sorted(Path(pipeline.__file__).parent.glob("*.py")))
    used = re.findall(r'failpoint\("([a-z-]+)"\)', code)
    assert sorted(set(used)) == sorted(FAILPOINTS)


# --------------------------------------------------------------------------- below the CLI

KILL_IN_TRANSACTION = """
import os, signal, sys
from datetime import datetime, timezone
from paperdigest.models import Listing, Paper
from paperdigest.store import Store

original = Store._upsert_papers

def upsert_then_die(self, *args):
    original(self, *args)  # the snapshot, its papers and their sightings are written, not committed
    os.kill(os.getpid(), signal.SIGKILL)

Store._upsert_papers = upsert_then_die
papers = [Paper(title=f"Paper {i} on tidal forecasting", abstract="We forecast tides. " * 5) for i in range(50)]
with Store(sys.argv[1]) as store:
    store.ingest(Listing(papers=papers, format="text"), source="kill.txt", hash_="h" * 64,
                 captured=None, now=datetime(2026, 11, 25, tzinfo=timezone.utc))
"""

KILL_IN_WRITE = """
import os, signal, sys
from pathlib import Path
from paperdigest import files

real_fdopen = os.fdopen

class HalfThenDie:
    def __init__(self, f): self.f = f
    def __enter__(self): return self
    def __exit__(self, *exc): return False
    def fileno(self): return self.f.fileno()
    def flush(self): self.f.flush()
    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

os.fdopen = lambda fd, mode: HalfThenDie(real_fdopen(fd, mode))
files.atomic_write(Path(sys.argv[1]), "<new>" * 100_000)
"""


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[1])


def test_kill_inside_an_ingest_transaction_leaves_nothing(tmp_path: Path) -> None:
    from paperdigest.store import Store

    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store(url).close()
    killed = python(KILL_IN_TRANSACTION, url)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    integrity_ok(tmp_path / "state.db")
    with Store(url) as store:
        assert store.paper_count() == 0
        assert store.recent_paper_counts("kill.txt") == [] and not store.is_duplicate("h" * 64)


def test_kill_in_the_middle_of_writing_a_file_leaves_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "feeds" / "all.xml"
    target.parent.mkdir()
    target.write_text("<old/>")
    killed = python(KILL_IN_WRITE, str(target))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert target.read_text() == "<old/>"
    # Only the hidden temporary is left, and it never has the target's name.
    (tmp,) = temp_files(tmp_path)
    assert tmp.name.startswith(".all.xml.") and 0 < tmp.stat().st_size < len("<new>" * 100_000)
