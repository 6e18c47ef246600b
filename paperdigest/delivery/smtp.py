"""Deliver messages over SMTP: one connection per batch, every failure sorted into retry or give up.

What a caller should do with each error ``send()`` raises:

* :class:`~paperdigest.errors.TransientDeliveryError` - try again later: a 4xx reply, a timeout, a
  refused or dropped connection, a TLS handshake that broke off, an unparseable reply.
* :class:`~paperdigest.errors.PermanentDeliveryError` - do not retry unchanged: a 5xx reply, and also
  a refused login (535) or an untrusted/mismatched server certificate, because retrying with the
  same password or trust store cannot succeed.

Both carry ``.affects_all`` (see :class:`SmtpTransientError`): True when the failure is about the
server, the connection, our sender address or our credentials rather than this recipient. The
rest of the batch would fail the same way, so stop the batch and do not blame the address.

A connection dropped after the message data was sent but before the final reply is ambiguous
(the server may have queued it); it is Transient, so a retry may deliver a duplicate.
Error messages are one line: recipient, server and its reply; never the password.
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import socket
import ssl
from email.message import Message
from types import TracebackType
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from paperdigest.config import PASSWORD_ENV
from paperdigest.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
SUBMISSION_PORT = 587  # smtp:// with STARTTLS: the message submission port (RFC 6409)
QUIT_TIMEOUT = 5.0  # closing politely must not hold a finished batch for a full command timeout
_LINE_END = re.compile(rb"\r\n|\r|\n")


class SmtpUrl(NamedTuple):
    scheme: str
    host: str
    port: int
    user: str | None


class _SmtpDetails:
    """The SMTP details a caller needs to decide what next (mixed into both error classes)."""

    def __init__(self, message: str, *, recipient: str = "", code: int | None = None,
                 affects_all: bool = False) -> None:
        super().__init__(message)  # type: ignore[call-arg]
        self.recipient = recipient
        self.code = code
        self.affects_all = affects_all


class SmtpTransientError(_SmtpDetails, TransientDeliveryError):
    """A Transient failure with the SMTP details a caller needs to decide what next.

    ``code`` is the server's reply code (None when there was no reply); ``affects_all`` is True
    when every other recipient would fail the same way (connection, TLS, login, sender refused).
    """


class SmtpPermanentError(_SmtpDetails, PermanentDeliveryError):
    """A Permanent failure; same attributes as :class:`SmtpTransientError`."""


SmtpError = SmtpTransientError | SmtpPermanentError


class _Stale(Exception):
    """A reused connection turned out dead before the server saw any of this message."""


def redact_smtp_url(url: str) -> str:
    """The URL with any password in it replaced by ``***``, safe for messages and logs."""
    m = re.match(r"^([^:/?#]*://)([^/?#]*)(.*)$", url, re.S)
    if not m or "@" not in m.group(2):
        return url
    userinfo, _, hostport = m.group(2).rpartition("@")
    user, colon, _ = userinfo.partition(":")
    return f"{m.group(1)}{user}{':***' if colon else ''}@{hostport}{m.group(3)}"


def parse_smtp_url(url: str, *, starttls: bool = False) -> SmtpUrl:
    """Split ``smtp[s]://[user@]host[:port]``; the port defaults to 25, 587 with STARTTLS, 465 for smtps."""
    shown = redact_smtp_url(url)
    if "://" not in url:
        raise ConfigError(f"smtp_url {shown}: must look like smtp://[user@]host[:port] or smtps://...")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(f"smtp_url {shown}: has a bad host or port") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise ConfigError(f"smtp_url {shown}: scheme must be smtp or smtps, not {parts.scheme!r}")
    if not parts.hostname:
        raise ConfigError(f"smtp_url {shown}: has no host")
    if parts.password is not None:
        raise ConfigError(f"smtp_url {shown}: must not hold a password: set {PASSWORD_ENV}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"smtp_url {shown}: must not have a path, query or fragment")
    if port == 0:
        raise ConfigError(f"smtp_url {shown}: port must be 1-65535")
    if port is None:
        port = SUBMISSION_PORT if parts.scheme == "smtp" and starttls else DEFAULT_PORTS[parts.scheme]
    user = unquote(parts.username) if parts.username else None
    return SmtpUrl(parts.scheme, parts.hostname, port, user)


class SmtpSender:
    """One connection reused for a batch; reconnects once if the server dropped it between messages.

    The connection opens on the first ``send()``, so connection, TLS and login failures surface
    there as delivery errors naming the recipient. Not thread-safe: one sender per worker.
    """

    def __init__(self, url: str, *, starttls: bool, password: str | None, timeout: float,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._url = parse_smtp_url(url, starttls=starttls)
        scheme, host, port, user = self._url
        self._label = f"{scheme}://{user + '@' if user else ''}{_host_for_url(host)}:{port}"
        if not timeout > 0:
            raise ConfigError(f"smtp timeout for {self._label}: must be a positive number of seconds")
        # smtps is encrypted from the first byte; STARTTLS on top of it would be meaningless.
        self._starttls = starttls and scheme == "smtp"
        encrypted = scheme == "smtps" or self._starttls
        if user is not None:
            if not password:
                raise ConfigError(f"smtp_url {self._label}: names user {user!r} but {PASSWORD_ENV} is not set")
            if not (user.isascii() and password.isascii()):  # smtplib's AUTH encodes both as ASCII
                raise ConfigError(f"smtp_url {self._label}: the user name and {PASSWORD_ENV} must be ASCII")
            if not encrypted and not _is_loopback(host):
                raise ConfigError(f"smtp_url {self._label}: refusing to send the password unencrypted; "
                                  "use smtps:// or starttls = true")
        self._password = password if user is not None else None
        self._timeout = float(timeout)
        self._context = ssl_context if ssl_context is not None else (
            ssl.create_default_context() if encrypted else None)
        self._conn: smtplib.SMTP | None = None
        self.connections_opened = 0

    def __repr__(self) -> str:
        state = "connected" if self._conn is not None else "idle"
        return f"<SmtpSender {self._label} starttls={self._starttls} {state}>"

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """QUIT politely if still connected; never raises (the batch's outcome is already known)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.sock is not None:
                conn.sock.settimeout(min(self._timeout, QUIT_TIMEOUT))
            conn.quit()
        except Exception:
            pass
        finally:
            _close_quietly(conn)

    def send(self, msg: Message | bytes, *, sender: str, to: str) -> None:
        """Return only once the server accepted the message for ``to``; else raise a DeliveryError.

        An email.message is sent as ``as_bytes`` with its own policy but CRLF line ends; bytes are
        sent as they are, except that bare CR or LF line ends become CRLF as SMTP requires.
        """
        data = _message_bytes(msg)
        for role, address in (("sender", sender), ("recipient", to)):
            if not address or "\r" in address or "\n" in address:
                raise SmtpPermanentError(f"{to!r}: {role} address {address!r} is empty or holds a line break",
                                         recipient=to, affects_all=role == "sender")
        reused = self._conn is not None
        conn = self._conn if self._conn is not None else self._open(to)
        try:
            self._transact(conn, data, sender, to, may_be_stale=reused)
        except _Stale:
            self._transact(self._open(to), data, sender, to, may_be_stale=False)

    # -- connection -------------------------------------------------------------------------

    def _open(self, to: str) -> smtplib.SMTP:
        scheme, host, port, user = self._url
        conn: smtplib.SMTP | None = None
        step = "connect"
        try:
            if scheme == "smtps":
                conn = smtplib.SMTP_SSL(host, port, timeout=self._timeout, context=self._context)
            else:
                conn = smtplib.SMTP(host, port, timeout=self._timeout)
            _no_delay(conn)
            step = "EHLO"
            conn.ehlo_or_helo_if_needed()
            if self._starttls:
                step = "STARTTLS"
                conn.starttls(context=self._context)
                step = "EHLO"
                conn.ehlo_or_helo_if_needed()
            if user is not None:
                step = "AUTH"
                assert self._password is not None
                conn.login(user, self._password)
        except (smtplib.SMTPException, OSError, ValueError) as err:
            if conn is not None:
                _close_quietly(conn)
            raise self._setup_error(err, step, to) from None
        self._conn = conn
        self.connections_opened += 1
        return conn

    def _setup_error(self, err: Exception, step: str, to: str) -> SmtpError:
        where = self._label
        if isinstance(err, smtplib.SMTPResponseException):
            reply = _reply_text(err.smtp_code, err.smtp_error)
            if step == "AUTH":
                text = f"login as {self._url.user!r} refused by {where}: {reply}"
            elif step == "connect":
                text = f"{where} refused the connection: {reply}"
            else:
                text = f"{where} refused {step}: {reply}"
            return self._error(text, to, err.smtp_code, affects_all=True,
                               permanent=_is_permanent(err.smtp_code))
        if isinstance(err, smtplib.SMTPNotSupportedError):
            feature = "STARTTLS" if step == "STARTTLS" else "AUTH" if step == "AUTH" else step
            return self._error(f"{where} does not offer {feature}", to, None, affects_all=True, permanent=True)
        if isinstance(err, ssl.SSLCertVerificationError):
            reason = err.verify_message or err.reason or str(err)
            return self._error(f"TLS certificate of {where} not trusted: {reason}", to, None,
                               affects_all=True, permanent=True)
        if isinstance(err, ssl.SSLError):
            return self._error(f"TLS handshake with {where} failed: {err.reason or err}", to, None,
                               affects_all=True, permanent=False)
        if _timed_out(err):
            return self._error(f"{where} timed out after {self._timeout:g} s during {step}", to, None,
                               affects_all=True, permanent=False)
        if isinstance(err, smtplib.SMTPServerDisconnected):
            return self._error(f"{where} closed the connection during {step}", to, None,
                               affects_all=True, permanent=False)
        if isinstance(err, ConnectionRefusedError):
            return self._error(f"cannot connect to {where}: connection refused", to, None,
                               affects_all=True, permanent=False)
        if isinstance(err, socket.gaierror):
            return self._error(f"cannot resolve the host of {where}: {err.strerror or err}", to, None,
                               affects_all=True, permanent=False)
        if isinstance(err, smtplib.SMTPException):  # e.g. "No suitable authentication method found."
            return self._error(f"{where} during {step}: {err}", to, None, affects_all=True, permanent=True)
        if isinstance(err, OSError):
            return self._error(f"cannot talk to {where} during {step}: {err.strerror or err}", to, None,
                               affects_all=True, permanent=False)
        return self._error(f"cannot use {where} during {step}: {err}", to, None, affects_all=True, permanent=True)

    # -- one message ------------------------------------------------------------------------

    def _transact(self, conn: smtplib.SMTP, data: bytes, sender: str, to: str, *, may_be_stale: bool) -> None:
        options = self._mail_options(conn, data, sender, to)
        phase = "MAIL FROM"
        try:
            code, reply = conn.mail(sender, options)
            if code != 250:
                if code == 421 and may_be_stale:  # e.g. "421 idle timeout" left waiting on the socket
                    self._discard()
                    raise _Stale()
                self._refused(conn, code, reply, phase, to, affects_all=True)
            phase = "RCPT TO"
            code, reply = conn.rcpt(to)
            if code not in (250, 251):
                self._refused(conn, code, reply, phase, to)
            phase = "DATA"
            code, reply = conn.data(data)
            if code != 250:
                self._refused(conn, code, reply, "end of DATA", to)
        except smtplib.SMTPDataError as err:  # the DATA command itself got no 354
            self._refused(conn, err.smtp_code, err.smtp_error, phase, to)
        except (smtplib.SMTPException, OSError, ValueError) as err:
            self._discard()
            if isinstance(err, ValueError):
                raise self._error(f"cannot send via {self._label}: {err}", to, None,
                                  affects_all=False, permanent=True) from None
            if may_be_stale and phase == "MAIL FROM" and not _timed_out(err):
                raise _Stale() from err
            if _timed_out(err):
                text = f"{self._label} timed out after {self._timeout:g} s at {phase}"
            else:
                text = f"{self._label} dropped the connection at {phase}"
            if phase == "DATA":
                text += " (the message may or may not have been queued)"
            raise self._error(text, to, None, affects_all=False, permanent=False) from None

    def _mail_options(self, conn: smtplib.SMTP, data: bytes, sender: str, to: str) -> list[str]:
        options: list[str] = []
        if conn.does_esmtp:
            if conn.has_extn("size"):
                options.append(f"SIZE={len(data)}")
            if not data.isascii() and conn.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
        if not (sender.isascii() and to.isascii()):
            if not conn.has_extn("smtputf8"):
                raise self._error(f"{self._label} lacks SMTPUTF8, needed for a non-ASCII address", to, None,
                                  affects_all=False, permanent=True)
            options.append("SMTPUTF8")
        return options

    def _refused(self, conn: smtplib.SMTP, code: int, reply: bytes | str, phase: str, to: str, *,
                 affects_all: bool = False) -> None:
        if code == 421 or code < 200:  # closing, or a garbled reply: the session is unusable
            self._discard()
        else:
            try:
                if conn.rset()[0] != 250:
                    self._discard()
            except (smtplib.SMTPException, OSError):
                self._discard()
        raise self._error(f"{self._label} refused {phase}: {_reply_text(code, reply)}", to, code,
                          affects_all=affects_all, permanent=_is_permanent(code))

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _close_quietly(conn)

    def _error(self, text: str, to: str, code: int | None, *, affects_all: bool, permanent: bool) -> SmtpError:
        message = f"{to}: {text}"
        if self._password:
            message = message.replace(self._password, "***")
        cls = SmtpPermanentError if permanent else SmtpTransientError
        return cls(message, recipient=to, code=code, affects_all=affects_all)


def _message_bytes(msg: Message | bytes) -> bytes:
    if isinstance(msg, Message):
        return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    data = bytes(msg)
    crlf = data.count(b"\r\n")
    if data.count(b"\n") == crlf and data.count(b"\r") == crlf:
        return data  # already CRLF throughout (wire_bytes): three counts beat a regex pass
    return _LINE_END.sub(b"\r\n", data)


def _is_permanent(code: int) -> bool:
    """5xx is permanent; 4xx and anything unparseable may work on another try."""
    return 500 <= code <= 599


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}".strip() if code >= 0 else f"unparseable reply {text!r}"


def _timed_out(err: BaseException) -> bool:
    """smtplib turns a read timeout into SMTPServerDisconnected; the TimeoutError is its context."""
    seen: BaseException | None = err
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _no_delay(conn: smtplib.SMTP) -> None:
    """Turn off Nagle: TLS sends a large message as several records, and Nagle would hold the last
    one until the server's delayed ACK (~40 ms per message, 20x slower batches)."""
    try:
        if conn.sock is not None:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def _close_quietly(conn: smtplib.SMTP) -> None:
    try:
        conn.close()
    except Exception:
        pass
