"""Build the email for one recipient of a digest: headers per recipient, bodies per digest.

Render the text and HTML parts once per digest (:mod:`paperdigest.delivery.render`) and call
:func:`build_email` for each recipient; it only sets headers around the shared bodies.
Every header value passes through :func:`header_text`, so nothing a profile title or a
paper holds can add a header line (CR, LF and other controls are dropped).

The subject counts the papers *in this digest* (``len(view.items)``): what the reader
will find in the email, not how many papers the source listed.
"""

from __future__ import annotations

import email.policy
import hashlib
import re
import weakref
from email.generator import BytesGenerator
from email.message import Message
from io import BytesIO
from typing import Any
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.errors import HeaderParseError
from email.message import EmailMessage, MIMEPart
from functools import lru_cache
from email.utils import format_datetime, getaddresses, parseaddr

from paperdigest.config import EmailConfig
from paperdigest.errors import PermanentDeliveryError
from paperdigest.models import DigestView
from paperdigest.delivery.textsafe import one_line

SUBJECT_TITLE_LIMIT = 80
FALLBACK_DOMAIN = "paperdigest.invalid"
_DOMAIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?")


class _CachedHeaderRegistry(HeaderRegistry):
    """HeaderRegistry builds a new header class on every lookup (two per header set);
    remembering them makes a message's headers about twice as cheap to set."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (type(self), ())


# email.policy.default, with the cached registry; smtplib and as_bytes(policy=SMTP) clone it.
POLICY = email.policy.default.clone(header_factory=_CachedHeaderRegistry())


def header_text(value: str, limit: int | None = 200) -> str:
    """One header-safe line: controls (CR/LF included) and bidi overrides dropped, trimmed."""
    return one_line(value, limit)


def subject_for(view: DigestView) -> str:
    """``[paperdigest] <title>: <n> new papers (<YYYY-MM-DD>)``; "1 new paper" in the singular."""
    title = header_text(view.profile_title, SUBJECT_TITLE_LIMIT) or header_text(view.profile_name, 60)
    n = len(view.items)
    papers = "1 new paper" if n == 1 else f"{n} new papers"
    return f"[paperdigest] {title}: {papers} ({view.date.isoformat()})"


def message_id(view: DigestView, to: str, domain: str) -> str:
    """``<hash@domain>``, the same for the same digest and recipient, so a resend after a crash
    is recognised as the same message by the receiving side."""
    addr = (parseaddr(to)[1] or to).strip().lower()
    digest = hashlib.sha256(f"{view.digest_id}\0{addr}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"<{digest[:32]}.paperdigest@{_domain(domain)}>"


def list_id(view: DigestView, email: EmailConfig) -> str:
    """``"Title" <profile-name.list_id>`` (RFC 2919); the id part is always plain ASCII."""
    name = re.sub(r"[^a-z0-9-]+", "-", view.profile_name.lower()).strip("-") or "digest"
    suffix = re.sub(r"[^A-Za-z0-9.-]+", "-", email.list_id).strip(".-") or "paperdigest"
    title = header_text(view.profile_title, SUBJECT_TITLE_LIMIT)
    if not title:
        return f"<{name}.{suffix}>"
    if title.isascii():
        quoted = title.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{name}.{suffix}>'
    # Non-ASCII is sent as encoded words, which may not sit inside quotes: drop the specials
    # instead, so the phrase stays a run of plain words.
    phrase = " ".join(re.sub(r'[()<>@,;:\\".\[\]]', " ", title).split())
    return f"{phrase} <{name}.{suffix}>" if phrase else f"<{name}.{suffix}>"


def build_email(view: DigestView, *, to: str, email: EmailConfig, text: str, html: str,
                unsubscribe: str | None = None) -> EmailMessage:
    """multipart/alternative (text/plain, then text/html) for one recipient.

    ``unsubscribe`` replaces the config's ``list_unsubscribe`` (a web subscriber's own one-click
    link). Raises :class:`PermanentDeliveryError` when ``to`` is not exactly one address.
    """
    recipient = _one_recipient(to)
    msg = EmailMessage(policy=POLICY)
    msg["From"] = header_text(email.from_addr, None)
    msg["To"] = recipient
    msg["Subject"] = subject_for(view)
    msg["Date"] = format_datetime(view.created)
    msg["Message-ID"] = message_id(view, recipient, _domain(parseaddr(email.from_addr)[1].rpartition("@")[2]))
    msg["List-Id"] = list_id(view, email)
    target = _unsubscribe(unsubscribe or email.list_unsubscribe)
    if target:
        msg["List-Unsubscribe"] = f"<{target}>"
        if target.lower().startswith("https:"):
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Paperdigest-Digest"] = header_text(view.digest_id, 120)
    msg["MIME-Version"] = "1.0"
    boundary, plain, rich = _body_parts(text, html)
    msg["Content-Type"] = f'multipart/alternative; boundary="{boundary}"'
    msg.attach(plain)  # type: ignore[arg-type]  # typeshed says EmailMessage; any MIMEPart works
    msg.attach(rich)  # type: ignore[arg-type]
    return msg


@lru_cache(maxsize=4)
def _body_parts(text: str, html: str) -> tuple[str, MIMEPart, MIMEPart]:
    """The MIME boundary and the encoded text/plain and text/html parts, once per digest.

    Encoding a 40 KB body, and searching it for a random boundary at every send, costs
    milliseconds, several times what the headers cost. The parts are shared, read-only, by
    every message built from the same two strings (the generator copies a part before it
    re-encodes one), and the boundary derives from the bodies, so a message's bytes are the
    same each time it is built.
    """
    plain, rich = MIMEPart(policy=POLICY), MIMEPart(policy=POLICY)
    # Quoted-printable: 7-bit safe for any server, and still readable in a raw .eml (left to
    # itself, the email package picks base64 for text that starts with a "====" rule).
    plain.set_content(text, cte="quoted-printable")
    rich.set_content(html, subtype="html", cte="quoted-printable")
    _PART_BYTES[plain] = {}
    _PART_BYTES[rich] = {}
    bodies = plain.as_string() + rich.as_string()
    seed = hashlib.sha256(bodies.encode("utf-8", "surrogateescape")).hexdigest()
    n = 0
    while (boundary := f"=_paperdigest_{seed[:24]}_{n}") in bodies:
        n += 1
    return boundary, plain, rich


class _SharedPartGenerator(BytesGenerator):
    """A BytesGenerator that writes the shared body parts from a cache of their bytes.

    Serialising a 40-70 KB quoted-printable body is most of the cost of turning a message
    into bytes, and it is the same for every recipient of a digest; only the headers differ.
    """

    def flatten(self, msg: Any, unixfrom: bool = False, linesep: str | None = None) -> None:
        cache = _PART_BYTES.get(msg)
        if cache is None:
            super().flatten(msg, unixfrom, linesep)
            return
        nl = linesep or (self.policy.linesep if self.policy else "\n")
        data = cache.get(nl)
        if data is None:
            buf = BytesIO()
            BytesGenerator(buf, mangle_from_=self._mangle_from_, policy=self.policy).flatten(  # type: ignore[attr-defined]
                msg, unixfrom, nl)
            data = cache[nl] = buf.getvalue()
        self._fp.write(data)  # type: ignore[attr-defined]


# The shared parts made by _body_parts -> their bytes per line ending (weak: freed with the part).
_PART_BYTES: weakref.WeakKeyDictionary[Message, dict[str, bytes]] = weakref.WeakKeyDictionary()


def wire_bytes(msg: EmailMessage) -> bytes:
    """The exact bytes sent over SMTP (CRLF line ends): also what the outbox keeps.

    Byte-identical to ``msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))``, faster."""
    buf = BytesIO()
    _SharedPartGenerator(buf, mangle_from_=False, policy=msg.policy.clone(linesep="\r\n")).flatten(msg)
    return buf.getvalue()


_PLACEHOLDER_TO = "recipient@paperdigest.invalid"


class DigestMail:
    """One digest's email as bytes for any recipient, fast: the message is built and
    serialized once, and only the To and Message-ID lines are made per recipient, folded by
    the same policy calls the generator makes (so the bytes equal
    ``wire_bytes(build_email(...))``; tests hold it to that)."""

    def __init__(self, view: DigestView, *, email: EmailConfig, text: str, html: str) -> None:
        self.view = view
        self._domain = _domain(parseaddr(email.from_addr)[1].rpartition("@")[2])
        proto = build_email(view, to=_PLACEHOLDER_TO, email=email, text=text, html=html)
        self._policy = proto.policy.clone(linesep="\r\n")
        data = wire_bytes(proto)
        head_end = data.index(b"\r\n\r\n")
        to_line = self._fold("To", _PLACEHOLDER_TO)
        id_line = self._fold("Message-ID", message_id(view, _PLACEHOLDER_TO, self._domain))
        i = data.index(to_line, 0, head_end)
        j = data.index(id_line, i + len(to_line), head_end)
        self._head, self._middle, self._tail = data[:i], data[i + len(to_line):j], data[j + len(id_line):]

    def _fold(self, name: str, value: str) -> bytes:
        stored_name, stored = self._policy.header_store_parse(name, value)
        return self._policy.fold_binary(stored_name, stored)

    def bytes_for(self, to: str) -> bytes:
        """Raises :class:`PermanentDeliveryError` when ``to`` is not exactly one address."""
        recipient = _one_recipient(to)
        return b"".join((self._head, self._fold("To", recipient), self._middle,
                         self._fold("Message-ID", message_id(self.view, recipient, self._domain)), self._tail))


def _one_recipient(to: str) -> str:
    bad = PermanentDeliveryError(f'recipient "{one_line(to, 120)}": not a single valid email address')
    if not to or any(not ch.isprintable() for ch in to):
        raise bad
    found = getaddresses([to])
    if len(found) != 1 or "@" not in found[0][1]:
        raise bad
    name, addr = found[0]
    try:
        Address(addr_spec=addr)
    except (HeaderParseError, ValueError, IndexError):
        raise bad from None
    return to.strip()


def _domain(domain: str) -> str:
    domain = domain.strip().strip(".")
    return domain if domain and _DOMAIN_RE.fullmatch(domain) else FALLBACK_DOMAIN


def _unsubscribe(url: str | None) -> str | None:
    """The List-Unsubscribe target: a mailto:, http: or https: URL without spaces or brackets."""
    value = header_text(url or "", 500)
    if not value or any(ch in value for ch in " <>\"'"):
        return None
    scheme = value.split(":", 1)[0].lower()
    return value if scheme in ("mailto", "http", "https") and ":" in value else None
