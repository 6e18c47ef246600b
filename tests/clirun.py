"""Run the real ``paperdigest`` console script in a subprocess, and check what one or more runs
left behind.

The fault, crash, concurrency and secrets tests share this: a two-profile config, two
listings of invented papers, and :func:`check_outcome`, which checks every guarantee a finished
run owes from the store and the files alone (not from the runs' own reports):

* every digest's deliveries are the profile's recipients, all ``sent``;
* each (digest, recipient) reached the SMTP server (or the outbox) exactly once, by Message-ID;
* each profile's papers went into exactly one digest, and no digest repeats a paper;
* every digest's Markdown file exists and is exactly what the store renders;
* every feed parses with feedparser (no bozo) and holds every paper of its profile's digests;
* no temporary file is left and ``PRAGMA integrity_check`` is ``ok``.
"""

from __future__ import annotations

import email
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

import feedparser

from paperdigest import files
from paperdigest.config import load_config
from paperdigest.delivery.emailmsg import message_id
from paperdigest.pipeline import ingest_capture, read_path_captures
from paperdigest.delivery.render import render_markdown
from paperdigest.store import Store

from .conftest import NOW
from .test_pipeline import LISTING_A

# A second day's listing: one new paper and one seen the day before. (Plain layout: the glued
# "SubscribeTitle" one of test_pipeline.LISTING_B is the parser's business, not this one's.)
LISTING_B = """Get trending papers in your email inbox!

Subscribe

Mixture of Experts Routing by Token Difficulty

Routing each token to experts by an estimate of its difficulty lets a mixture of experts model spend \
compute where it matters. Easy tokens use one expert and hard tokens use four, which cuts inference \
cost by a third at equal quality.

Speculative Decoding with Tiny Drafters

A tiny drafter proposes several tokens and the large model verifies them in parallel. Speculative \
decoding with our drafter doubles generation speed on long answers without changing the output \
distribution.
"""

PAPERDIGEST = Path(sys.executable).parent / "paperdigest"
NOW_ISO = "2026-11-25T07:00:00Z"
DOMAIN = "example.org"
# Stop the CLI from inheriting anything that changes what a run does.
_SCRUB = ("PAPERDIGEST_FAILPOINT", "PAPERDIGEST_CONFIG", "PAPERDIGEST_DEBUG", "PAPERDIGEST_SMTP_PASSWORD")

# Every PAPERDIGEST_FAILPOINT in paperdigest/pipeline/, in run order.
FAILPOINTS = ("after-ingest", "before-digest", "before-markdown", "after-markdown-write", "before-send",
              "after-send", "after-mark", "before-feeds", "mid-feeds")

PROFILES = {
    "inference": ("alice@example.org", "bob@example.org"),
    "graphs": ("bob@example.org", "carol@example.org"),
}
# What each profile must end up with from LISTING_A + LISTING_B (worked out by hand from the
# keywords below, not by running the ranker).
EXPECTED_TITLES = {
    "inference": {"Quantization Without Calibration Data for Small Language Models",
                  "Speculative Decoding with Tiny Drafters",
                  "Mixture of Experts Routing by Token Difficulty"},
    "graphs": {"Gardens of Graphs: Message Passing for Botanical Taxonomy"},
}
ALL_TITLES = set().union(*EXPECTED_TITLES.values())

CONFIG = """
[store]
url = "sqlite:///state.db"

[output]
dir = "out"

[email]
from = "Paper Digest <digest@{domain}>"
list_unsubscribe = "mailto:unsubscribe@{domain}"
{smtp}

[[profile]]
name = "inference"
title = "Efficient inference"
recipients = ["alice@example.org", "bob@example.org"]
keywords = {{ "quantization" = 3, "speculative decoding" = 3, "mixture of experts|moe" = 2 }}
min_score = 0.1

[[profile]]
name = "graphs"
title = "Graph learning"
recipients = ["bob@example.org", "carol@example.org"]
keywords = {{ "graph neural network" = 3, "message passing" = 2 }}
min_score = 0.1
"""


def write_config(folder: Path, smtp_url: str | None = None, *, timeout: float = 5.0) -> Path:
    """The two-profile config in ``folder``: SMTP to ``smtp_url``, or the outbox without one."""
    smtp = f'smtp_url = "{smtp_url}"\ntimeout = {timeout}' if smtp_url else ""
    path = folder / "paperdigest.toml"
    path.write_text(textwrap.dedent(CONFIG).format(domain=DOMAIN, smtp=smtp))
    return path


def write_listings(folder: Path) -> list[Path]:
    a, b = folder / "a.txt", folder / "b.txt"
    a.write_text(LISTING_A)
    b.write_text(LISTING_B)
    return [a, b]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["PAPERDIGEST_NOW"] = NOW_ISO
    env.update(extra)
    return env


def run_args(config: Path, listings: Sequence[Path], *flags: str) -> list[str]:
    args = [*flags, "run", "--config", str(config), "--without-prefect", "--json"]
    for p in listings:
        args += ["--snapshot", str(p)]
    return args


def paperdigest(cwd: Path, args: Sequence[str], *, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the console script to the end (``env`` adds variables, e.g. PAPERDIGEST_FAILPOINT)."""
    return subprocess.run([str(PAPERDIGEST), *args], cwd=cwd, env=cli_env(**env), capture_output=True,
                          text=True, timeout=timeout)


def start(cwd: Path, args: Sequence[str], **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(PAPERDIGEST), *args], cwd=cwd, env=cli_env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_together(cwd: Path, args: Sequence[str], *, n: int = 2, timeout: float = 60) -> list[tuple[int, str, str]]:
    """Start ``n`` console scripts at once and wait for all: (exit code, stdout, stderr) each.
    Whatever is still running when one times out is killed, so no process outlives the test."""
    procs = [start(cwd, args) for _ in range(n)]
    try:
        outputs = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


def ingest_first_listing(config: Path, listings: Sequence[Path]) -> int:
    """Ingest the first of ``listings`` into the config's store, as an earlier run would have;
    returns how many papers were new."""
    cfg = load_config(config)
    with Store(cfg.store_url) as store:
        (cap,) = read_path_captures([str(listings[0])], max_bytes=cfg.max_input_bytes, now=NOW)
        return ingest_capture(store, cap, output_dir=cfg.output_dir, now=NOW).new


# --------------------------------------------------------------------------- checking a store


@dataclass
class Outcome:
    pairs: dict[tuple[str, str], str] = field(default_factory=dict)  # (digest key, recipient) -> Message-ID
    digests: dict[str, list[str]] = field(default_factory=dict)  # key -> item titles
    copies: Counter[tuple[str, str]] = field(default_factory=Counter)


def integrity_ok(db: Path) -> None:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()


def temp_files(folder: Path) -> list[Path]:
    """atomic_write's temporaries (``.<name>.<random>.tmp``) anywhere below ``folder``."""
    return [p for p in folder.rglob(".*.tmp")] if folder.exists() else []


def check_files_complete(out: Path) -> None:
    """Whatever feed or Markdown file exists is whole: feeds parse, Markdown ends with a newline
    and has a heading. Holds after a kill at any point, since every write is atomic."""
    for path in sorted((out / "feeds").glob("*")) if (out / "feeds").exists() else []:
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, f"{path.name}: {parsed.get('bozo_exception')}"
    for path in sorted((out / "digests").rglob("*.md")) if (out / "digests").exists() else []:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# ") and text.endswith("\n"), path


def check_outcome(cwd: Path, config: Path, *, received: Iterable[object] | None = None,
                  resent_ok: int = 0, expected: dict[str, set[str]] | None = None) -> Outcome:
    """Check every guarantee a finished run owes (see the module docstring).

    ``received`` is the SMTP test server's list (None: outbox mode). ``resent_ok`` is how many
    (digest, recipient) pairs may have arrived twice with the same Message-ID: the at-least-once
    window of a kill between the server's acceptance and the store's mark.
    """
    expected = EXPECTED_TITLES if expected is None else expected
    cfg = load_config(config)
    out = cfg.output_dir
    integrity_ok(cwd / "state.db")
    result = Outcome()
    with Store(cfg.store_url) as store:
        status = store.delivery_status()
        with sqlite3.connect(cwd / "state.db") as con:
            rows = con.execute("SELECT id, digest_key, profile, markdown_path FROM digests ORDER BY id").fetchall()
        per_profile: dict[str, list[str]] = {p: [] for p in PROFILES}
        for digest_id, key, profile, md_path in rows:
            view = store.digest_view(digest_id)
            titles = [it.paper.title for it in view.items]
            result.digests[key] = titles
            per_profile[profile].extend(titles)
            md = files.markdown_path(out, key)
            assert md_path == str(md), f"{key}: markdown not recorded ({md_path!r})"
            assert md.read_text(encoding="utf-8") == render_markdown(view), f"{key}: Markdown file is not complete"
            if titles:
                for to in PROFILES[profile]:
                    result.pairs[(key, to)] = message_id(view, to, DOMAIN)
    for profile, titles in per_profile.items():
        assert len(titles) == len(set(titles)), f"{profile}: a paper is in two digests: {titles}"
        assert set(titles) == expected[profile], f"{profile}: digests hold {titles}"
    # The store owes exactly these deliveries and has sent every one.
    assert sorted((k, to) for k, to, *_ in status) == sorted(result.pairs)
    assert [s for _, _, s, *_ in status if s != "sent"] == [], status

    if received is not None:
        arrived = Counter((r.message_id, r.rcpt_tos) for r in received)  # type: ignore[attr-defined]
        wanted = {(mid, (pair[1],)): pair for pair, mid in result.pairs.items()}
        assert set(arrived) == set(wanted), f"unexpected or missing messages: {set(arrived) ^ set(wanted)}"
        result.copies = Counter({wanted[k]: n for k, n in arrived.items()})
        twice = [p for p, n in result.copies.items() if n > 1]
        assert max(result.copies.values()) <= 2 and len(twice) <= resent_ok, result.copies
    else:
        box = out / "outbox"
        names = {files.outbox_path(out, key, to).name: (key, to) for key, to in result.pairs}
        assert sorted(p.name for p in box.iterdir()) == sorted(names)
        for name, pair in names.items():
            msg = email.message_from_bytes((box / name).read_bytes(), policy=policy.default)
            assert msg["Message-ID"] == result.pairs[pair] and msg["To"] == pair[1]
            result.copies[pair] = 1

    all_titles = set().union(*per_profile.values()) if per_profile else set()
    for name in [*PROFILES, "all"]:
        want = set(per_profile[name]) if name in PROFILES else ALL_TITLES | all_titles
        for kind in ("rss", "atom"):
            path = files.feed_path(out, name, kind)
            parsed = feedparser.parse(path.read_bytes())
            assert not parsed.bozo, f"{path.name}: {parsed.get('bozo_exception')}"
            got = {e.title for e in parsed.entries}
            assert want <= got, f"{path.name} lacks {want - got}"
    check_files_complete(out)
    assert temp_files(cwd) == []
    return result
