"""Step 1 of a run: read or fetch each source, archive the raw bytes, parse and ingest each
capture on its own, so one bad input never costs another."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from paperdigest import files
from paperdigest.config import Config, SourceConfig
from paperdigest.errors import FetchError, InputError, one_line, PaperdigestError, TransientFetchError
from paperdigest.models import Listing
from paperdigest.pipeline import failpoints
from paperdigest.sources.captures import Capture, parse_capture, read_path_captures
from paperdigest.store import content_hash, Store

log = logging.getLogger("paperdigest")

# A capture with fewer papers than this share of the source's recent median is "suspiciously short".
SHORT_CAPTURE_RATIO = 0.5
SHORT_CAPTURE_MIN_HISTORY = 3
# Without Prefect a URL source gets this many tries in all (waits 1 s, 2 s, or Retry-After).
FETCH_ATTEMPTS = 3
FETCH_BACKOFF = 1.0


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
    updated: int = 0  # known papers this capture filled in or corrected (never counted new again)
    # Values refused (absurd upvotes, a date in the future, an empty title), one line each naming
    # the capture. Unlike ``warning`` (about the capture as a whole) they stay out of the digests.
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "papers": self.papers, "new": self.new, "duplicate": self.duplicate,
                "error": self.error, "warning": self.warning, "not_modified": self.not_modified,
                "updated": self.updated, "warnings": ([self.warning] if self.warning else []) + list(self.notes)}


def capture_warning(store: Store, source: str, listing: Listing) -> str | None:
    """Flag a capture that is broken (a sentinel item) or far shorter than this source's recent
    median, so a scraper's bad day is said out loud instead of read as a quiet news day.

    Captures that held no paper (broken ones) are left out of the baseline, so one outage does
    not lower the bar for the next.
    """
    if listing.broken:
        notes = "; ".join(w.removeprefix("broken capture: ") for w in listing.warnings
                          if w.startswith("broken capture: ")) or "sentinel item"
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
    for note in result.warnings:
        log.warning("%s", note)
    if cap.state_key and cap.validators:
        store.save_source_validators(cap.state_key, cap.validators[0], cap.validators[1], now)
    failpoints.failpoint("after-ingest")
    error = None
    if listing.problems:
        # Complete papers were kept; the report still says the input was not clean.
        error = one_line(f"{cap.source}: " + "; ".join(listing.problems))
    return InputReport(cap.source, result.papers, result.new, result.duplicate, error=error,
                       warning=warning, new_ids=result.new_ids, updated=result.updated, notes=result.warnings)


# --------------------------------------------------------------------------- fetching


def fetch_capture(client: Any, source: SourceConfig, store: Store, *, max_bytes: int, now: datetime,
                  attempts: int = 1, backoff: float = FETCH_BACKOFF,
                  sleep: Callable[[float], None] | None = None) -> Capture:
    """Fetch one URL source with a conditional GET (the validators of its last good ingest).

    Transient failures are tried ``attempts`` times in all, waiting per ``fetch.retry_delay``
    (never sooner than Retry-After). Raises :class:`FetchError` whose message names the
    source; the caller decides whether that is a retry (Prefect) or a failed capture.
    """
    from paperdigest.sources.fetch import Validators, fetch_with_retries

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
        from paperdigest.sources.fetch import make_client

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
