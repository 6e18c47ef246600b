"""A whole run without Prefect, and the report every run returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from paperdigest import files
from paperdigest.config import Config
from paperdigest.pipeline.deliver import deliver_owed, EmailReport, run_owner
from paperdigest.pipeline.digests import (build_profile_digest, digest_day, publish_feeds, schedule_zone, term_stats,
                                          write_pending_markdown)
from paperdigest.pipeline.meaning import MeaningSource
from paperdigest.pipeline.ingest import collect_captures, ingest_capture, InputReport
from paperdigest.pipeline.semantic import check_embedder, embed_papers, embedder_for
from paperdigest.pipeline.subscribers import build_personal_digests, digest_due, queue_due
from paperdigest.store import DigestRecord, Store



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
    """A digest item as ``run --json`` shows it: the ranking's keys, plus what the store knows
    (whether the abstract is available yet, the sightings line, the momentum blend)."""
    from paperdigest.ranking import item_to_json

    data = item_to_json(item)
    data["abstract_available"] = bool(item.paper.abstract)
    data["sightings"] = item.sightings.describe() if item.sightings is not None else None
    data["rank_value"] = round(item.blend.value, 4) if item.blend is not None else None
    return data


def _email_status(status: str, channel: str | None) -> str:
    if status == "sent":
        return "outbox" if channel == "outbox" else "sent"
    if status == "sending":
        return "skipped"  # another run holds the claim and is sending it
    if status == "cancelled":
        return "cancelled"  # the web subscriber left before it was sent
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
               sleep: Callable[[float], None] | None = None, scheduled: bool = False,
               embedder_factory: Callable[[Config], Any] = embedder_for) -> RunReport:
    """One whole run without Prefect (the flow in ``flows/digest.py`` runs the same steps as tasks).
    ``sleep`` is how fetch retries wait (tests pass a recorder). ``scheduled`` (an hourly run)
    makes a profile's digest only when ``[schedule] cron`` has fired since its last one; web
    subscribers are served at their own hour either way. ``embedder_factory`` gives the
    embedding model (tests pass a counting one)."""
    from paperdigest.delivery.render import check_templates
    from paperdigest.delivery.links import links_for

    check_templates(config.templates, now)
    links = links_for(config)  # before anything: a missing secret is a config error
    check_embedder(config, embedder_factory)
    store = Store(config.store_url)
    try:
        caps = collect_captures(config, store, extra_snapshots, now=now, http_client=http_client, sleep=sleep)
        reports = [ingest_capture(store, c, output_dir=config.output_dir, now=now) for c in caps]
        embed_papers(store, config, embedder_factory)
        warnings = [r.warning for r in reports if r.warning]
        stats = term_stats(store)
        day = digest_day(config, now)
        meaning = MeaningSource(config, store, embedder_factory=embedder_factory)
        records = {p.name: build_profile_digest(store, p, stats, now=now, day=day, warnings=warnings,
                                                tz=schedule_zone(config), meaning=meaning)
                   for p in config.profiles
                   if not scheduled or digest_due(config.schedule, store.last_digest_at(p.name), now)}
        if links is not None:
            build_personal_digests(store, config, stats, now=now, day=day, warnings=warnings, scheduled=scheduled,
                                   meaning=meaning)
        write_pending_markdown(store, config.output_dir, config.templates)
        if links is not None:
            queue_due(store, config, now=now)
        emails = deliver_owed(store, config, owner=run_owner(), now=now, open_sender=open_sender, links=links)
        feeds = publish_feeds(store, config, now)
        return assemble_report(store, config, reports, records, feeds, emails, [])
    finally:
        store.close()
