"""Delivery: one 20-item digest to 2,000 readers over one SMTP connection.

The server is aiosmtpd in its own process (``smtp_sink``), on 127.0.0.1, accepting all.
Three figures:

* emails/s: ``build_email`` then ``SmtpSender.send`` per reader, one connection for all
  (goal >= 200/s on 2 cores); the bodies are rendered once before, as the pipeline does.
  Beside it, the baseline of the same run: plain ``smtplib`` sending one pre-built
  message's bytes 2,000 times to the same server, i.e. what the server and the socket allow;
* the render cost: text and HTML bodies rendered once per digest, shown per digest and per
  email (divided by 2,000), with ``build_email`` and the serialization per email beside it;
* the same 2,000 through ``pipeline.deliver_owed`` on a SQLite store, as users get it:
  claim every delivery, render once, then per email build, send and mark it sent (one
  commit per email, so a crash never sends one twice).
"""

from __future__ import annotations

import random
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

from tests.benchmarks.common import ROOT, goal, n, progress

from paperdigest.config import Config, EmailConfig, FeedConfig, Profile, ScheduleConfig
from paperdigest.delivery.emailmsg import build_email, wire_bytes
from paperdigest.models import DigestView, Listing, Match, Paper, RankedItem
from paperdigest.pipeline import deliver_owed, run_owner
from paperdigest.delivery.render import render_html, render_text
from paperdigest.delivery.smtp import SmtpSender, _message_bytes
from paperdigest.store import Store
from tests.benchmarks.synthetic import synthetic_papers

ITEMS = 20
READERS = 2_000
SEED = 20250214
NOW = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
FIRST = ("Ada", "Bo", "Chen", "Dara", "Emil", "Farah", "Goran", "Hiro", "Ines", "Jon", "Kemal", "Lena")
LAST = ("Ito", "Novak", "Okafor", "Park", "Quinn", "Rossi", "Silva", "Tanaka", "Umar", "Varga", "Weber")
EMAIL = EmailConfig(from_addr="Paper Digest <digest@example.org>",
                    list_unsubscribe="https://digest.example.org/unsubscribe", list_id="paperdigest.example.org")


def digest_items(seed: int = SEED) -> list[RankedItem]:
    """Twenty papers as a digest holds them: authors, upvotes, a summary for some, two matches each."""
    rng = random.Random(seed)
    items = []
    for i, p in enumerate(synthetic_papers(ITEMS, seed)):
        authors = tuple(f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(rng.randint(2, 9)))
        summary = p.abstract.split(". ")[0] + "." if i % 3 == 0 else None
        paper = Paper(title=p.title, abstract=p.abstract, arxiv_id=p.arxiv_id, url=p.url, authors=authors,
                      upvotes=rng.randint(0, 300), ai_summary=summary)
        words = p.title.split()
        matches = (Match(" ".join(words[1:3]).lower(), "title+abstract", 2.0), Match(words[-1].lower(), "title", 1.0))
        items.append(RankedItem(paper, 3.0 - i * 0.1, matches))
    return items


def readers() -> list[str]:
    return [f"reader{i:04d}@example.org" for i in range(READERS)]


class SmtpSink:
    """The sink process: its URL while it runs, and what it received once stopped."""

    def __enter__(self) -> SmtpSink:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.benchmarks.smtp_sink"], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = f"smtp://127.0.0.1:{int(self.proc.stdout.readline())}"
        return self

    def stop(self) -> tuple[int, int]:
        out, _ = self.proc.communicate(timeout=30)
        messages, size = out.split()
        return int(messages), int(size)

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def raw_send(url: str, data: bytes, to: list[str]) -> float:
    """The baseline: the same bytes for every reader through plain smtplib, one connection."""
    host, _, port = url.removeprefix("smtp://").rpartition(":")
    start = time.perf_counter()
    conn = smtplib.SMTP(host, int(port), timeout=30)
    for r in to:
        conn.sendmail("digest@example.org", [r], data)
    conn.quit()
    return time.perf_counter() - start


def bare_send(url: str, view: DigestView, to: list[str]) -> tuple[float, float, float, float]:
    """Render once, then build and send per reader: render s, build+send s, and per email the
    seconds of ``build_email`` alone and of turning the message into bytes."""
    start = time.perf_counter()
    text, html = render_text(view), render_html(view)
    render_s = time.perf_counter() - start
    sender_addr = "digest@example.org"
    # Building, then turning into bytes, each timed on its own (200 readers), apart from the sending.
    start = time.perf_counter()
    msgs = [build_email(view, to=r, email=EMAIL, text=text, html=html) for r in to[:200]]
    build_each = (time.perf_counter() - start) / len(msgs)
    start = time.perf_counter()
    for m in msgs:
        _message_bytes(wire_bytes(m))
    bytes_each = (time.perf_counter() - start) / len(msgs)
    start = time.perf_counter()
    with SmtpSender(url, starttls=False, password=None, timeout=30) as sender:
        for r in to:
            # As pipeline.deliver_owed does: the digest's bodies are serialized once (wire_bytes).
            sender.send(wire_bytes(build_email(view, to=r, email=EMAIL, text=text, html=html)),
                        sender=sender_addr, to=r)
        opened = sender.connections_opened
    send_s = time.perf_counter() - start
    if opened != 1:
        raise SystemExit(f"delivery: {opened} SMTP connections opened, expected 1")
    return render_s, send_s, build_each, bytes_each


def store_send(url: str, tmp: Path, items: list[RankedItem], to: list[str]) -> tuple[float, list[str]]:
    """2,000 owed deliveries sent through ``pipeline.deliver_owed``: seconds and statuses."""
    config = Config(path=tmp / "paperdigest.toml", store_url=f"sqlite:///{tmp / 'store.db'}", output_dir=tmp / "out",
                    sources=(), profiles=(Profile(name="bench", title="Benchmark digest", keywords={"x": 1.0},
                                                  recipients=tuple(to)),),
                    email=EmailConfig(from_addr=EMAIL.from_addr, smtp_url=url, list_unsubscribe=EMAIL.list_unsubscribe,
                                      list_id=EMAIL.list_id),
                    schedule=ScheduleConfig(), feed=FeedConfig())
    with Store(config.store_url) as store:
        result = store.ingest(Listing([it.paper for it in items], format="hf-api"), source="bench", hash_="bench",
                              captured=NOW, now=NOW)
        record = store.create_digest(profile="bench", profile_title="Benchmark digest", expected_cursor=None,
                                     new_cursor=max(result.new_ids), day=date(2026, 1, 5), now=NOW,
                                     new_papers=len(items), matched=len(items),
                                     items=list(zip(result.new_ids, items)), recipients=to)
        assert record is not None
        start = time.perf_counter()
        reports = deliver_owed(store, config, owner=run_owner(), now=NOW)
        seconds = time.perf_counter() - start
    return seconds, [r.status for r in reports]


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    try:
        items = digest_items()
        view = DigestView(digest_id="bench/2026-01-05", profile_name="bench", profile_title="Benchmark digest",
                          date=date(2026, 1, 5), created=NOW, new_papers=180, matched=35, items=tuple(items))
        to = readers()
        sample = _message_bytes(build_email(view, to=to[0], email=EMAIL, text=render_text(view),
                                            html=render_html(view)))
        with SmtpSink() as sink:
            progress(f"delivery: {n(READERS)} emails to {sink.url}, plain smtplib then ours")
            raw_s = raw_send(sink.url, sample, to)
            render_s, send_s, build_each, bytes_each = bare_send(sink.url, view, to)
            got, size = sink.stop()
        if got != 2 * READERS:
            raise SystemExit(f"delivery: the server accepted {got} of {2 * READERS} emails")
        rate, raw_rate = READERS / send_s, READERS / raw_s
        print(f"delivery: {n(READERS)} emails of {len(sample) / 1024:.0f} KB ({ITEMS} items) over one SMTP "
              f"connection to aiosmtpd in another process: {n(rate)} emails/s incl. build_email "
              f"{goal(rate, '>=', 200, '200/s')}; plain smtplib sending pre-built bytes to the same server "
              f"{n(raw_rate)} emails/s (ours/plain {rate / raw_rate:.2f})", flush=True)
        print(f"delivery render: {render_s * 1000:.0f} ms per digest (text + HTML, once) = "
              f"{render_s * 1000 / READERS:.3f} ms per email of {n(READERS)}; build_email {build_each * 1000:.2f} ms "
              f"and serializing {bytes_each * 1000:.2f} ms per email", flush=True)

        with SmtpSink() as sink:
            progress(f"delivery: {n(READERS)} emails through pipeline.deliver_owed")
            seconds, statuses = store_send(sink.url, tmp, items, to)
            got, _ = sink.stop()
        if got != READERS or statuses.count("sent") != READERS:
            raise SystemExit(f"delivery: deliver_owed sent {statuses.count('sent')}, the server accepted {got}")
        rate = READERS / seconds
        print(f"delivery via store: {n(READERS)} emails through pipeline.deliver_owed (claim all, render once, "
              f"then build, send and mark sent in SQLite per email): {n(rate)} emails/s "
              f"{goal(rate, '>=', 200, '200/s')}", flush=True)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
