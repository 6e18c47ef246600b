"""Step 4 of a run: send (or write to the outbox) every delivery owed, whichever run created it."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any, Protocol

from paperdigest import files
from paperdigest.config import Config
from paperdigest.errors import DeliveryError, PermanentDeliveryError
from paperdigest.pipeline import failpoints
from paperdigest.store import Store

log = logging.getLogger("paperdigest")



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


def smtp_opener(config: Config) -> Callable[[], Any]:
    """Opens an SMTP connection to the config's server (a context manager yielding a Sender)."""
    from paperdigest.delivery.smtp import SmtpSender

    def open_sender() -> Any:
        assert config.email.smtp_url is not None
        return SmtpSender(config.email.smtp_url, starttls=config.email.starttls,
                          password=config.email.password, timeout=config.email.timeout)

    return open_sender


def deliver_owed(store: Store, config: Config, *, owner: str, now: datetime,
                 open_sender: Callable[[], Any] | None = None, links: Any = None) -> list[EmailReport]:
    """Send (or write to the outbox) every delivery owed, whichever run created it.

    ``open_sender`` returns a context manager yielding a :class:`Sender`; by default an
    SMTP connection from the config, reused for the whole batch. Without ``smtp_url`` the
    exact bytes go to ``<output.dir>/outbox``. ``links`` (:class:`paperdigest.delivery.links.Links`)
    signs the links of web subscribers' emails; without it their deliveries are left owed.
    """
    from paperdigest.delivery.emailmsg import DigestMail, build_email, wire_bytes
    from paperdigest.delivery.render import render_html, render_text

    claimed = store.claim_deliveries(owner, now, subscribers=links is not None)
    if not claimed:
        return []
    reports: list[EmailReport] = []
    views: dict[int, Any] = {}  # each digest read once
    mails: dict[int, DigestMail] = {}  # rendered and serialized once, for the config's recipients
    paper_ids: dict[int, list[int]] = {}  # for web subscribers' per-paper links
    smtp = config.email.smtp_url or open_sender is not None
    sender_addr = parseaddr(config.email.from_addr)[1]

    def view_of(digest_id: int) -> Any:
        if digest_id not in views:
            views[digest_id] = store.digest_view(digest_id)
        return views[digest_id]

    def message(d: Any, view: Any) -> bytes:
        """The email's bytes for one delivery: the digest's shared bytes for a config recipient
        (only two header lines differ per recipient); for a web subscriber, bodies and
        List-Unsubscribe of their own (signed links)."""
        if d.subscriber_id is None:
            if d.digest_id not in mails:
                mails[d.digest_id] = DigestMail(view, email=config.email, text=render_text(view, config.templates),
                                                html=render_html(view, config.templates))
            return mails[d.digest_id].bytes_for(d.recipient)
        if d.digest_id not in paper_ids:
            paper_ids[d.digest_id] = store.digest_paper_ids(d.digest_id)
        reader = links.reader(d.subscriber_id, paper_ids[d.digest_id])
        msg = build_email(view, to=d.recipient, email=config.email, unsubscribe=reader.unsubscribe,
                          text=render_text(view, config.templates, reader),
                          html=render_html(view, config.templates, reader))
        return wire_bytes(msg)

    # A row leaves ``todo`` only once it is marked sent or failed. An unexpected error (a full
    # disk, a bug) hands the rest back as pending: this process is alive, so otherwise its
    # claims would block a retry in the same process (Prefect task retries) for CLAIM_LEASE.
    todo = list(claimed)
    if not smtp:
        try:
            while todo:
                d = todo[0]
                view = view_of(d.digest_id)
                try:
                    data = message(d, view)
                except DeliveryError as e:
                    store.mark_failed(d.id, owner, str(e), permanent=True)
                    todo.pop(0)
                    reports.append(EmailReport(view.digest_id, d.recipient, "failed", str(e)))
                    continue
                failpoints.failpoint("before-send")
                files.atomic_write(files.outbox_path(config.output_dir, view.digest_id, d.recipient), data)
                failpoints.failpoint("after-send")  # a resend rewrites the same file: still one copy
                store.mark_sent(d.id, owner, now, "outbox")
                todo.pop(0)
                failpoints.failpoint("after-mark")
                reports.append(EmailReport(view.digest_id, d.recipient, "outbox"))
        finally:
            for d in todo:
                store.mark_failed(d.id, owner, "interrupted", permanent=False)
        return reports

    if open_sender is None:
        open_sender = smtp_opener(config)

    pending = todo  # the row in flight stays in it until marked (see above)
    try:
        with open_sender() as sender:
            while pending:
                d = pending[0]
                view = view_of(d.digest_id)
                try:
                    data = message(d, view)
                    failpoints.failpoint("before-send")
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
                failpoints.failpoint("after-send")
                store.mark_sent(d.id, owner, now, "smtp")
                pending.pop(0)
                failpoints.failpoint("after-mark")  # mid-batch: this one recorded, the rest still owed
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
