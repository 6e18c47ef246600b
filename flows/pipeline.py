"""The steps of a digest run as plain functions: the Prefect flow in ``flows.digest`` wraps
each in a task, and ``run_digest`` composes them without Prefect (for ``--without-prefect``
and for tests).

Order of a run and why it is safe to kill at any point:

1. read or fetch every source; archive the raw bytes; parse; ingest (one transaction per
   capture, so one bad input never rolls back another);
2. per profile: rank the papers it has not considered yet, then create the digest, its
   items, its owed deliveries and the cursor move in one transaction;
3. write every digest's Markdown that is not written yet;
4. claim and send every owed delivery (this run's and any a crashed run left), marking each
   sent only after the server accepted it;
5. rewrite the feeds from the store.

Steps 3-5 work from the store, not from this run's memory, so the next run finishes
whatever a killed run left.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import parseaddr
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from . import files
from .config import Config, Profile, SourceConfig
from .errors import (DeliveryError, FetchError, InputError, PaperdigestError, PermanentDeliveryError,
                     TransientFetchError, one_line)
from .models import Listing, Paper
from .captures import Capture, parse_capture, read_path_captures
from .store import DigestRecord, Store, content_hash

log = logging.getLogger("paperdigest")

# A capture with fewer papers than this share of the source's recent median is "suspiciously short".
SHORT_CAPTURE_RATIO = 0.5
SHORT_CAPTURE_MIN_HISTORY = 3
# Without Prefect a URL source gets this many tries in all (waits 1 s, 2 s, or Retry-After).
FETCH_ATTEMPTS = 3
FETCH_BACKOFF = 1.0
TERM_STATS_BLOB = "term_stats"


def failpoint(name: str) -> None:
    """Fault injection for the crash tests: ``PAPERDIGEST_FAILPOINT=<name>`` kills the process
    here with SIGKILL, as a power cut or the OOM killer would.

    Names, in run order: after-ingest, before-digest, before-markdown, after-markdown-write,
    before-send, after-send, after-mark, before-feeds, mid-feeds (tests/test_crash.py).
    """
    if os.environ.get("PAPERDIGEST_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------- captures


@dataclass
class InputReport:
    source: str
    papers: int = 0
    new: int = 0
    duplicate: bool = False
    error: str | None = None
    warning: str | None = None
    not_modified: bool = False
    new_ids: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "papers": self.papers, "new": self.new, "duplicate": self.duplicate,
                "error": self.error, "warning": self.warning, "not_modified": self.not_modified}


def capture_warning(store: Store, source: str, listing: Listing) -> str | None:
    """Flag a capture that is broken (a sentinel item) or far shorter than this source's recent
    median, so a scraper's bad day is said out loud instead of read as a quiet news day.

    Captures that held no paper (broken ones) are left out of the baseline, so one outage does
    not lower the bar for the next.
    """
    if listing.broken:
        notes = "; ".join(w.removeprefix("broken capture: ") for w in listing.warnings) or "sentinel item"
        return one_line(f'The capture from source "{source}" looks broken ({notes}); '
                        "it was not taken as the listing.")
    recent = [n for n in store.recent_paper_counts(source) if n > 0]
    if len(recent) >= SHORT_CAPTURE_MIN_HISTORY:
        median = statistics.median(recent)
        if len(listing.papers) < SHORT_CAPTURE_RATIO * median:
            return one_line(f'The capture from source "{source}" looks short: {len(listing.papers)} papers '
                            f"where the recent median is {median:g}.")
    return None


def ingest_capture(store: Store, cap: Capture, *, output_dir: Path, now: datetime) -> InputReport:
    """Archive, parse and store one capture. Never raises for a bad input: the report says why."""
    if cap.error:
        log.error("%s", cap.error)
        store.record_failure(source=cap.source, hash_=None, error=cap.error, now=now)
        return InputReport(cap.source, error=cap.error)
    if cap.not_modified:
        return InputReport(cap.source, not_modified=True)
    assert cap.data is not None
    files.archive_capture(output_dir, cap.data)
    digest = content_hash(cap.data)
    try:
        listing = parse_capture(cap)
    except PaperdigestError as e:
        log.error("%s", e)
        store.record_failure(source=cap.source, hash_=digest, error=str(e), now=now)
        return InputReport(cap.source, error=str(e))
    warning = capture_warning(store, cap.source, listing)
    if warning:
        log.warning("%s", warning)
    for note in listing.warnings:
        log.info("%s: %s", cap.source, note)
    for problem in listing.problems:
        log.warning("%s: %s", cap.source, problem)
    result = store.ingest(listing, source=cap.source, hash_=digest, captured=cap.captured, now=now,
                          warning=warning)
    if cap.state_key and cap.validators:
        store.save_source_validators(cap.state_key, cap.validators[0], cap.validators[1], now)
    failpoint("after-ingest")
    error = None
    if listing.problems:
        # Complete papers were kept; the report still says the input was not clean.
        error = one_line(f"{cap.source}: " + "; ".join(listing.problems))
    return InputReport(cap.source, result.papers, result.new, result.duplicate, error=error,
                       warning=warning, new_ids=result.new_ids)


# --------------------------------------------------------------------------- fetching


def fetch_capture(client: Any, source: SourceConfig, store: Store, *, max_bytes: int, now: datetime,
                  attempts: int = 1, backoff: float = FETCH_BACKOFF,
                  sleep: Callable[[float], None] | None = None) -> Capture:
    """Fetch one URL source with a conditional GET (the validators of its last good ingest).

    Transient failures are tried ``attempts`` times in all, waiting per ``fetch.retry_delay``
    (never sooner than Retry-After). Raises :class:`FetchError` whose message names the
    source; the caller decides whether that is a retry (Prefect) or a failed capture.
    """
    from .fetch import Validators, fetch_with_retries

    assert source.url is not None
    etag, modified = store.source_validators(source.name)
    try:
        result = fetch_with_retries(client, source.url, attempts=attempts, backoff=backoff,
                                    sleep=sleep or time.sleep, params=source.params or None,
                                    validators=Validators(etag=etag, last_modified=modified),
                                    max_bytes=max_bytes, timeout=source.timeout)
    except TransientFetchError as e:
        raise TransientFetchError(f'source "{source.name}": {e}', retry_after=e.retry_after) from None
    except FetchError as e:
        raise FetchError(f'source "{source.name}": {e}') from None
    if result.not_modified:
        log.info('source "%s": not modified since the last fetch', source.name)
        return Capture(source=source.name, captured=now, not_modified=True)
    return Capture(source=source.name, captured=now, data=result.content, content_type=result.content_type,
                   format=source.format, state_key=source.name,
                   validators=(result.validators.etag, result.validators.last_modified))


# --------------------------------------------------------------------------- ranking


def term_stats(store: Store, *, save: bool = True) -> Any:
    """IDF statistics over the whole store, brought up to date incrementally (new papers only;
    all of them again when the stored statistics come from an older text analysis).

    ``save=False`` (previews) computes the same statistics without writing them back.
    """
    from .ranking import TermStats

    saved = store.load_blob(TERM_STATS_BLOB)
    stats, upto = (TermStats.from_json(saved[0]), saved[1]) if saved else (TermStats(), 0)
    if not stats.current:  # made by an older text analysis: count every paper again
        stats, upto = TermStats(), 0
    fresh = store.papers_after(upto)
    if fresh:
        stats.add(p for _, p in fresh)
        if save:
            store.save_blob(TERM_STATS_BLOB, stats.to_json(), fresh[-1][0])
    return stats


def digest_day(config: Config, now: datetime) -> date:
    return now.astimezone(ZoneInfo(config.schedule.timezone)).date()


@dataclass
class Selection:
    """What a profile's next digest holds: the papers it has not considered, ranked and cut."""

    cursor: int | None  # the profile's cursor as read (None: a new profile)
    candidates: list[tuple[int, Paper]]  # (paper id, paper), oldest first
    chosen: list[Any]  # RankedItem, after min_score and max_items
    matched: int  # how many passed the filters before max_items
    new_cursor: int


def select_for_profile(store: Store, profile: Profile, stats: Any, *, now: datetime) -> Selection:
    """Rank the papers this profile has not considered yet (read only: ``run`` and ``preview``).

    A new profile starts with the papers first seen in the last ``backfill_days``.
    """
    from .ranking import rank, select

    cursor = store.profile_cursor(profile.name)
    start = cursor if cursor is not None else store.first_paper_seen_since(now - timedelta(days=profile.backfill_days))
    candidates = store.papers_after(start)
    papers = [p for _, p in candidates]
    ranked = rank(papers, [profile], stats)[profile.name] if papers else []
    return Selection(cursor=cursor, candidates=candidates, chosen=select(ranked, profile),
                     matched=sum(1 for it in ranked if it.score >= profile.min_score),
                     new_cursor=candidates[-1][0] if candidates else start)


def build_profile_digest(store: Store, profile: Profile, stats: Any, *, now: datetime, day: date,
                         warnings: Sequence[str] = ()) -> DigestRecord | None:
    """Record the profile's next digest and move its cursor, in one transaction.

    Papers ranked below ``min_score`` or beyond ``max_items`` are considered and not offered
    again. Returns None when a concurrent run already took these papers.
    """
    sel = select_for_profile(store, profile, stats, now=now)
    ids = {id(p): pid for pid, p in sel.candidates}
    failpoint("before-digest")
    return store.create_digest(
        profile=profile.name, profile_title=profile.title, expected_cursor=sel.cursor, new_cursor=sel.new_cursor,
        day=day, now=now, new_papers=len(sel.candidates), matched=sel.matched,
        items=[(ids[id(it.paper)], it) for it in sel.chosen],
        recipients=profile.recipients if (sel.chosen or profile.send_empty) else (),
        warnings=warnings)


# --------------------------------------------------------------------------- rendering


def write_markdown(store: Store, digest_id: int, output_dir: Path) -> Path:
    """Render a digest's Markdown from the store and write it atomically (idempotent)."""
    from .render import render_markdown

    view = store.digest_view(digest_id)
    path = files.markdown_path(output_dir, view.digest_id)
    files.atomic_write(path, render_markdown(view))
    failpoint("after-markdown-write")  # written but not yet marked: the next run rewrites it
    store.set_markdown_path(digest_id, str(path))
    return path


def write_pending_markdown(store: Store, output_dir: Path) -> list[Path]:
    failpoint("before-markdown")  # digests recorded, no file yet
    return [write_markdown(store, d, output_dir) for d in store.digests_without_markdown()]


def publish_feeds(store: Store, config: Config, now: datetime) -> dict[str, dict[str, Path]]:
    """Rewrite every feed from the store: per profile, plus ``all`` (every new paper, unfiltered)."""
    from .feeds import render_feed

    failpoint("before-feeds")
    since = now - timedelta(days=config.feed.max_days)
    base = config.feed.base_url.rstrip("/") + "/"
    out: dict[str, dict[str, Path]] = {}
    targets: list[tuple[str, str, str, Callable[[], Sequence[Any]]]] = [
        (p.name, f"paperdigest: {p.title}", f"Papers matching the profile {p.title!r}",
         partial(store.feed_entries, p.name, max_items=config.feed.max_items, since=since))
        for p in config.profiles]
    targets.append(("all", "paperdigest: all new papers", "Every new paper, unfiltered",
                    lambda: store.recent_papers(max_items=config.feed.max_items, since=since)))
    for name, title, description, entries_of in targets:
        entries = entries_of()
        updated = max((e.added for e in entries), default=now)
        out[name] = {}
        for kind in ("rss", "atom"):
            path = files.feed_path(config.output_dir, name, kind)
            data = render_feed(entries, kind=kind, feed_id=f"urn:paperdigest:feed:{name}", title=title,
                               link=base, self_url=f"{base}feeds/{path.name}", description=description,
                               updated=updated)
            files.atomic_write(path, data)
            failpoint("mid-feeds")  # one feed file rewritten, the others not yet
            out[name][kind] = path
    return out


# --------------------------------------------------------------------------- delivery


class Sender(Protocol):
    def send(self, msg: Any, *, sender: str, to: str) -> None: ...


@dataclass
class EmailReport:
    digest: str
    to: str
    status: str  # sent | outbox | failed | skipped
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"to": self.to, "status": self.status, "error": self.error, "digest": self.digest}


def run_owner() -> str:
    """Who holds a claim: host and pid (a dead pid frees its claims) plus a unique run id."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def deliver_owed(store: Store, config: Config, *, owner: str, now: datetime,
                 open_sender: Callable[[], Any] | None = None) -> list[EmailReport]:
    """Send (or write to the outbox) every delivery owed, whichever run created it.

    ``open_sender`` returns a context manager yielding a :class:`Sender`; by default an
    SMTP connection from the config, reused for the whole batch. Without ``smtp_url`` the
    exact bytes go to ``<output.dir>/outbox``.
    """
    from .emailmsg import DigestMail
    from .render import render_html, render_text

    claimed = store.claim_deliveries(owner, now)
    if not claimed:
        return []
    reports: list[EmailReport] = []
    views: dict[int, tuple[Any, DigestMail]] = {}
    smtp = config.email.smtp_url or open_sender is not None
    sender_addr = parseaddr(config.email.from_addr)[1]

    def rendered(digest_id: int) -> tuple[Any, DigestMail]:
        """Render and serialize each digest once; per recipient only two header lines differ."""
        if digest_id not in views:
            view = store.digest_view(digest_id)
            views[digest_id] = (view, DigestMail(view, email=config.email, text=render_text(view),
                                                 html=render_html(view)))
        return views[digest_id]

    # A row leaves ``todo`` only once it is marked sent or failed. An unexpected error (a full
    # disk, a bug) hands the rest back as pending: this process is alive, so otherwise its
    # claims would block a retry in the same process (Prefect task retries) for CLAIM_LEASE.
    todo = list(claimed)
    if not smtp:
        try:
            while todo:
                d = todo[0]
                view, mail = rendered(d.digest_id)
                try:
                    data = mail.bytes_for(d.recipient)
                except DeliveryError as e:
                    store.mark_failed(d.id, owner, str(e), permanent=True)
                    todo.pop(0)
                    reports.append(EmailReport(view.digest_id, d.recipient, "failed", str(e)))
                    continue
                failpoint("before-send")
                files.atomic_write(files.outbox_path(config.output_dir, view.digest_id, d.recipient), data)
                failpoint("after-send")  # a resend rewrites the same file: still one copy
                store.mark_sent(d.id, owner, now, "outbox")
                todo.pop(0)
                failpoint("after-mark")
                reports.append(EmailReport(view.digest_id, d.recipient, "outbox"))
        finally:
            for d in todo:
                store.mark_failed(d.id, owner, "interrupted", permanent=False)
        return reports

    if open_sender is None:
        from .smtp import SmtpSender

        def open_sender() -> Any:
            assert config.email.smtp_url is not None
            return SmtpSender(config.email.smtp_url, starttls=config.email.starttls,
                              password=config.email.password, timeout=config.email.timeout)

    pending = todo  # the row in flight stays in it until marked (see above)
    try:
        with open_sender() as sender:
            while pending:
                d = pending[0]
                view, mail = rendered(d.digest_id)
                try:
                    data = mail.bytes_for(d.recipient)
                    failpoint("before-send")
                    sender.send(data, sender=sender_addr, to=d.recipient)
                except DeliveryError as e:
                    if getattr(e, "affects_all", False):
                        # The connection, TLS, login or our sender address failed: not this
                        # recipient's fault, and the rest of the batch would fail the same way.
                        raise
                    status = store.mark_failed(d.id, owner, str(e), permanent=isinstance(e, PermanentDeliveryError))
                    pending.pop(0)
                    log.error("%s: %s%s", view.digest_id, e, "" if status == "failed" else " (will retry next run)")
                    reports.append(EmailReport(view.digest_id, d.recipient, "failed", str(e)))
                    continue
                # A kill here (accepted, not yet marked) is the one at-least-once window: the
                # next run resends with the same Message-ID (README, "Guarantees").
                failpoint("after-send")
                store.mark_sent(d.id, owner, now, "smtp")
                pending.pop(0)
                failpoint("after-mark")  # mid-batch: this one recorded, the rest still owed
                reports.append(EmailReport(view.digest_id, d.recipient, "sent"))
    except DeliveryError as e:  # the server or the connection failed: every unsent row stays owed
        for d in [*pending]:
            store.mark_failed(d.id, owner, str(e), permanent=False)
            reports.append(EmailReport(store.digest_key(d.digest_id), d.recipient, "failed", str(e)))
        log.error("%s", e)
        pending.clear()
    finally:
        # An unexpected error: hand the claims back, the one in flight too (if the server had
        # accepted it, it is resent: the same at-least-once window as a kill after send).
        for d in pending:
            store.mark_failed(d.id, owner, "interrupted", permanent=False)
    return reports


# --------------------------------------------------------------------------- a whole run


@dataclass
class DigestReport:
    profile: str
    digest: str | None
    items: list[dict[str, Any]] = field(default_factory=list)
    markdown: str | None = None
    feed: str | None = None
    atom: str | None = None
    emails: list[EmailReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "digest": self.digest, "items": self.items, "markdown": self.markdown,
                "feed": self.feed, "atom": self.atom,
                "emails": [{"to": e.to, "status": e.status, "error": e.error} for e in self.emails]}


@dataclass
class RunReport:
    snapshots: list[InputReport]
    digests: list[DigestReport]
    other_emails: list[EmailReport] = field(default_factory=list)  # owed by earlier runs
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return (any(s.error for s in self.snapshots) or bool(self.errors)
                or any(e.status == "failed" for d in self.digests for e in d.emails)
                or any(e.status == "failed" for e in self.other_emails))

    def to_json(self) -> dict[str, Any]:
        return {"snapshots": [s.to_json() for s in self.snapshots],
                "new_papers": sum(s.new for s in self.snapshots),
                "digests": [d.to_json() for d in self.digests],
                "other_emails": [e.to_json() for e in self.other_emails],
                "errors": self.errors, "failed": self.failed}


def item_json(item: Any) -> dict[str, Any]:
    from .ranking import item_to_json

    return item_to_json(item)


def _email_status(status: str, channel: str | None) -> str:
    if status == "sent":
        return "outbox" if channel == "outbox" else "sent"
    if status == "sending":
        return "skipped"  # another run holds the claim and is sending it
    return "failed"


def assemble_report(store: Store, config: Config, snapshots: list[InputReport], records: dict[str, DigestRecord | None],
                    feeds: dict[str, dict[str, Path]], emails: list[EmailReport], errors: list[str]) -> RunReport:
    """The run's report; each digest's email statuses are read back from the store, so they
    say what really happened, whichever task or retry did the sending."""
    digests: list[DigestReport] = []
    mine: set[str] = set()
    for profile in config.profiles:
        rec = records.get(profile.name)
        rep = DigestReport(profile=profile.name, digest=rec.key if rec else None,
                           feed=str(feeds.get(profile.name, {}).get("rss", "")) or None,
                           atom=str(feeds.get(profile.name, {}).get("atom", "")) or None)
        if rec is not None:
            view = store.digest_view(rec.id)
            rep.items = [item_json(it) for it in view.items]
            rep.markdown = str(files.markdown_path(config.output_dir, rec.key))
            rep.emails = [EmailReport(key, to, _email_status(status, channel), error)
                          for key, to, status, error, channel in store.delivery_status(rec.id)]
            mine.add(rec.key)
        digests.append(rep)
    others = [e for e in emails if e.digest not in mine]
    return RunReport(snapshots, digests, others, errors)


def run_digest(config: Config, *, extra_snapshots: Sequence[str] = (), now: datetime,
               open_sender: Callable[[], Any] | None = None, http_client: Any = None,
               sleep: Callable[[float], None] | None = None) -> RunReport:
    """One whole run without Prefect (the flow in ``flows.digest`` runs the same steps as tasks).
    ``sleep`` is how fetch retries wait (tests pass a recorder)."""
    store = Store(config.store_url)
    try:
        caps = collect_captures(config, store, extra_snapshots, now=now, http_client=http_client, sleep=sleep)
        reports = [ingest_capture(store, c, output_dir=config.output_dir, now=now) for c in caps]
        warnings = [r.warning for r in reports if r.warning]
        stats = term_stats(store)
        day = digest_day(config, now)
        records = {p.name: build_profile_digest(store, p, stats, now=now, day=day, warnings=warnings)
                   for p in config.profiles}
        write_pending_markdown(store, config.output_dir)
        emails = deliver_owed(store, config, owner=run_owner(), now=now, open_sender=open_sender)
        feeds = publish_feeds(store, config, now)
        return assemble_report(store, config, reports, records, feeds, emails, [])
    finally:
        store.close()


def read_file_sources(config: Config, *, now: datetime) -> list[Capture]:
    """The captures of every configured file source (a file, folder or glob), each in its format."""
    caps: list[Capture] = []
    for s in config.sources:
        if s.path is not None:
            caps.extend(read_path_captures([s.path], max_bytes=config.max_input_bytes, now=now, fmt=s.format))
    return caps


def collect_captures(config: Config, store: Store, extra: Sequence[str], *, now: datetime,
                     http_client: Any = None, sleep: Callable[[float], None] | None = None) -> list[Capture]:
    """Every configured source's capture (files, then URLs over one client), then ``extra``.

    A URL source that still fails after ``FETCH_ATTEMPTS`` tries becomes a failed capture;
    the other sources go on.
    """
    caps = read_file_sources(config, now=now)
    url_sources = [s for s in config.sources if s.url]
    if url_sources:
        from .fetch import make_client

        client = http_client or make_client()
        try:
            for s in url_sources:
                try:
                    caps.append(fetch_capture(client, s, store, max_bytes=config.max_input_bytes, now=now,
                                              attempts=FETCH_ATTEMPTS, sleep=sleep))
                except InputError as e:
                    caps.append(Capture(source=s.name, captured=now, error=str(e)))
        finally:
            if http_client is None:
                client.close()
    caps.extend(read_path_captures(extra, max_bytes=config.max_input_bytes, now=now))
    return caps

