"""The confirmation email, through the same delivery path as the digests: the config's SMTP
server, or the outbox folder when there is none. Text and HTML, the digest's look; the text
part holds the confirmation link under ``[web] base_url``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, parseaddr
from typing import Any

from paperdigest import files
from paperdigest.config import Config
from paperdigest.delivery.emailmsg import POLICY, header_text, wire_bytes
from paperdigest.delivery.render import email_document, sanitize_html
from paperdigest.delivery.signing import CONFIRM_TTL
from paperdigest.delivery.templating import render_template

SUBJECT = "[paperdigest] Confirm your subscription"


def confirmation_email(config: Config, *, to: str, url: str, profiles: list[str], now: datetime) -> bytes:
    context = {"url": url, "profiles": profiles, "days": CONFIRM_TTL.days}
    text = render_template("web/confirm_email.txt.j2", context, config.templates)
    body = sanitize_html(render_template("web/confirm_email.html.j2", context, config.templates))
    html = email_document("Confirm your subscription", now.date().isoformat(), body, config.templates)
    msg = EmailMessage(policy=POLICY)
    msg["From"] = header_text(config.email.from_addr, None)
    msg["To"] = to
    msg["Subject"] = SUBJECT
    msg["Date"] = format_datetime(now)
    domain = parseaddr(config.email.from_addr)[1].rpartition("@")[2] or "paperdigest.invalid"
    msg["Message-ID"] = f"<{hashlib.sha256(url.encode()).hexdigest()[:32]}.confirm@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.make_alternative()
    plain, rich = MIMEPart(policy=POLICY), MIMEPart(policy=POLICY)
    plain.set_content(text, cte="quoted-printable")
    rich.set_content(html, subtype="html", cte="quoted-printable")
    msg.attach(plain)  # type: ignore[arg-type]
    msg.attach(rich)  # type: ignore[arg-type]
    return wire_bytes(msg)


def send_confirmation(config: Config, data: bytes, *, to: str, tag: str,
                      open_sender: Callable[[], Any] | None = None) -> str:
    """Send it (``sent``) or write it to the outbox (``outbox``); raises DeliveryError."""
    if open_sender is None and not config.email.smtp_url:
        files.atomic_write(files.outbox_path(config.output_dir, f"confirm/{tag}", to), data)
        return "outbox"
    if open_sender is None:
        from paperdigest.pipeline.deliver import smtp_opener

        open_sender = smtp_opener(config)
    with open_sender() as sender:
        sender.send(data, sender=parseaddr(config.email.from_addr)[1], to=to)
    return "sent"
