"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, in a thread) that misbehaves on cue.

    with SmtpTestServer() as srv:                       # or tls="starttls" / "smtps", auth=(u, p)
        srv.reply("RCPT", "550 5.1.1 no such user", rcpt="ghost@example.org", times=None)
        srv.reply("DATA", "451 4.3.0 try later")        # first message only, then accept
        srv.drop("DATA")                                # hang up after the data, before replying
        srv.close_with("421 4.3.2 closing", "DATA")     # reply 421, then hang up
        srv.stall("DATA", 3.0)                          # sleep before replying
        ... send to srv.url ...
        srv.received[0].data, srv.connections, srv.quits

A cue applies to one stage (EHLO, MAIL, RCPT or DATA), optionally only when ``rcpt`` is the
recipient (RCPT) or among the recipients (DATA), for its first ``times`` matches (None: always);
the oldest live cue that matches wins. A message is recorded in ``received`` only when the server
answers 250 to its data, so dropped, refused or stalled-out messages are never there.
``connections`` counts TCP connections since start (the controller's own start-up probe excluded);
each recorded message says which connection (1, 2, ...) carried it. ``drop_connections()`` hangs
up on every client, as an idle timeout or a restart would; ``stop()`` does that and closes the
port, so a later connect is refused. ``make_certificate()`` writes a self-signed certificate.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
STAGES = ("EHLO", "MAIL", "RCPT", "DATA")
ACTIONS = ("reply", "drop", "close", "stall")


def free_port() -> int:
    """A port nothing listens on right now (bind to 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class SelfSignedCert:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this certificate and nothing else."""
        return ssl.create_default_context(cafile=str(self.cert_file))


def make_certificate(directory: Path, *, hosts: tuple[str, ...] = (HOST, "localhost"),
                     name: str = "smtp") -> SelfSignedCert:
    """Write ``<name>.crt``/``<name>.key``: an EC P-256 self-signed cert valid for ``hosts``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"paperdigest test {name}")])
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return SelfSignedCert(cert_file, key_file)


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # exactly what arrived between DATA and the final dot, dot-stuffing undone
    message_id: str | None
    mail_options: tuple[str, ...]
    connection: int  # which TCP connection (1, 2, ...) carried it
    tls: bool
    login: str | None  # the authenticated user, if any


@dataclass
class Cue:
    stage: str
    action: str
    reply: str = ""
    rcpt: str | None = None
    times: int | None = 1
    seconds: float = 0.0
    hits: int = 0

    def matches(self, stage: str, rcpts: tuple[str, ...]) -> bool:
        if stage != self.stage or (self.times is not None and self.hits >= self.times):
            return False
        return self.rcpt is None or self.rcpt.lower() in (r.lower() for r in rcpts)


class _Connection(SMTP):
    """aiosmtpd's protocol for one TCP connection, numbered and tracked so tests can hang up on it."""

    def __init__(self, owner: SmtpTestServer, number: int, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.number = number
        self._owner = owner

    def connection_lost(self, error: Exception | None) -> None:
        self._owner._forget(self)
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, owner: SmtpTestServer, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._owner = owner

    def factory(self) -> SMTP:
        return self._owner._new_connection(self.handler, self.SMTP_kwargs)


class _Handler:
    def __init__(self, owner: SmtpTestServer) -> None:
        self.owner = owner

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname  # the 5-argument hook must do this itself
        status = await self.owner._act("EHLO", server, ())
        return [status] if status else responses

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        status = await self.owner._act("MAIL", server, ())
        if status:
            return status
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        status = await self.owner._act("RCPT", server, (address,))
        if status:
            return status
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        status = await self.owner._act("DATA", server, tuple(envelope.rcpt_tos))
        if status:
            return status
        self.owner._record(server, session, envelope)
        return "250 2.0.0 OK queued"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.owner._count_quit()
        return "221 2.0.0 Bye"


class SmtpTestServer:
    """See the module docstring. ``tls`` is "none", "starttls" or "smtps" (implicit TLS)."""

    host = HOST

    def __init__(self, *, tls: str = "none", cert: SelfSignedCert | None = None,
                 auth: tuple[str, str] | None = None, auth_require_tls: bool | None = None,
                 require_starttls: bool = False) -> None:
        if tls not in ("none", "starttls", "smtps"):
            raise ValueError(f"tls must be none, starttls or smtps, not {tls!r}")
        if tls != "none" and cert is None:
            raise ValueError(f"tls={tls} needs a cert (make_certificate)")
        self.tls = tls
        self.port = free_port()
        self._auth = auth
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._cues: list[Cue] = []
        self._live: set[_Connection] = set()
        self._connections = 0
        self._quits = 0
        self._auth_attempts: list[tuple[str, str, bool]] = []
        kwargs: dict[str, Any] = {"server_hostname": "smtp.paperdigest.test"}
        if tls == "starttls":
            assert cert is not None
            kwargs.update(tls_context=cert.server_context(), require_starttls=require_starttls)
        elif tls == "smtps":
            assert cert is not None
            kwargs["ssl_context"] = cert.server_context()
        if auth is not None:
            kwargs["authenticator"] = self._authenticate
        # aiosmtpd only counts STARTTLS as TLS, so on smtps AUTH must not demand it.
        kwargs["auth_require_tls"] = (tls == "starttls") if auth_require_tls is None else auth_require_tls
        self._kwargs = kwargs
        self._controller = _Controller(self, _Handler(self), hostname=HOST, port=self.port, **kwargs)
        self._running = False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SmtpTestServer:
        # free_port() closes the port it found; another process may take it before we bind.
        for attempt in range(5):
            try:
                self._controller.start()
                break
            except (OSError, RuntimeError):
                if attempt == 4:
                    raise
                self.port = free_port()
                self._controller = _Controller(self, _Handler(self), hostname=HOST, port=self.port, **self._kwargs)
        with self._lock:
            self._connections = 0  # forget the controller's start-up probe
        self._running = True
        return self

    def stop(self) -> None:
        """Hang up on every client and close the port (later connects are refused)."""
        if not self._running:
            return
        self._running = False
        try:
            self.drop_connections()
        finally:
            self._controller.stop()

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{'smtps' if self.tls == 'smtps' else 'smtp'}://{HOST}:{self.port}"

    def url_for(self, user: str) -> str:
        return self.url.replace("://", f"://{user}@", 1)

    # -- what happened ------------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    @property
    def quits(self) -> int:
        with self._lock:
            return self._quits

    @property
    def auth_attempts(self) -> list[tuple[str, str, bool]]:
        """(mechanism, login, accepted) per AUTH exchange."""
        with self._lock:
            return list(self._auth_attempts)

    # -- cues ---------------------------------------------------------------------------------

    def cue(self, stage: str, action: str, *, reply: str = "", rcpt: str | None = None,
            times: int | None = 1, seconds: float = 0.0) -> Cue:
        if stage not in STAGES or action not in ACTIONS:
            raise ValueError(f"stage must be one of {STAGES} and action one of {ACTIONS}")
        if rcpt is not None and stage not in ("RCPT", "DATA"):
            raise ValueError("rcpt= only makes sense for RCPT or DATA")
        if action in ("reply", "close") and not reply[:1].isdigit():
            raise ValueError(f"{action} needs an SMTP reply such as '451 4.3.0 try later'")
        c = Cue(stage, action, reply=reply, rcpt=rcpt, times=times, seconds=seconds)
        with self._lock:
            self._cues.append(c)
        return c

    def reply(self, stage: str, reply: str, *, rcpt: str | None = None, times: int | None = 1) -> Cue:
        """Answer ``stage`` with ``reply`` (e.g. "451 4.3.0 try later") instead of accepting."""
        return self.cue(stage, "reply", reply=reply, rcpt=rcpt, times=times)

    def drop(self, stage: str = "DATA", *, rcpt: str | None = None, times: int | None = 1) -> Cue:
        """Abort the TCP connection at ``stage`` without replying (after the data, for DATA)."""
        return self.cue(stage, "drop", rcpt=rcpt, times=times)

    def close_with(self, reply: str = "421 4.3.2 closing", stage: str = "DATA", *,
                   rcpt: str | None = None, times: int | None = 1) -> Cue:
        """Send ``reply`` at ``stage`` and then close the connection."""
        return self.cue(stage, "close", reply=reply, rcpt=rcpt, times=times)

    def stall(self, stage: str, seconds: float, *, rcpt: str | None = None, times: int | None = 1) -> Cue:
        """Sleep ``seconds`` before handling ``stage`` normally (a client that gives up hangs up)."""
        return self.cue(stage, "stall", rcpt=rcpt, times=times, seconds=seconds)

    def clear_cues(self) -> None:
        with self._lock:
            self._cues.clear()

    def drop_connections(self, reply: str | None = None) -> None:
        """Hang up on every connected client, after sending ``reply`` (e.g. "421 idle timeout") if given."""
        loop = self._controller.loop
        if not loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self._hang_up_all(reply), loop).result(timeout=5)

    # -- inside the server's event loop -------------------------------------------------------

    def _new_connection(self, handler: Any, smtp_kwargs: dict[str, Any]) -> _Connection:
        with self._lock:
            self._connections += 1
            number = self._connections
        conn = _Connection(self, number, handler, **smtp_kwargs)
        with self._lock:
            self._live.add(conn)
        return conn

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._live.discard(conn)

    def _count_quit(self) -> None:
        with self._lock:
            self._quits += 1

    async def _act(self, stage: str, server: SMTP, rcpts: tuple[str, ...]) -> str | None:
        """Carry out the first matching cue; return a reply to send instead of the normal one."""
        with self._lock:
            cue = next((c for c in self._cues if c.matches(stage, rcpts)), None)
            if cue is None:
                return None
            cue.hits += 1
        transport = server.transport
        if cue.action == "reply":
            return cue.reply
        if cue.action == "stall":
            await asyncio.sleep(cue.seconds)
            return None
        assert transport is not None
        if cue.action == "close":
            await server.push(cue.reply)
            transport.close()
        else:
            transport.abort()  # type: ignore[attr-defined]
        # connection_lost() cancels this handler; nothing more is ever sent on this connection.
        await asyncio.sleep(3600)
        return None

    def _record(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        data = envelope.original_content or b""
        mid = BytesHeaderParser().parsebytes(data).get("Message-ID")
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("ssl_object") is not None
        auth = session.auth_data
        login = auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None
        item = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(data),
            message_id=str(mid).strip() if mid is not None else None,
            mail_options=tuple(envelope.mail_options),
            connection=getattr(server, "number", 0),
            tls=tls,
            login=login,
        )
        with self._lock:
            self._received.append(item)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        assert self._auth is not None
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login, auth_data.password) == (self._auth[0].encode(), self._auth[1].encode())
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else ""
        with self._lock:
            self._auth_attempts.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def _hang_up_all(self, reply: str | None) -> None:
        with self._lock:
            targets = list(self._live)
        for conn in targets:
            transport = conn.transport
            if transport is None:
                continue
            if reply:
                try:
                    await conn.push(reply)
                except Exception:
                    pass
                transport.close()
            else:
                transport.abort()  # type: ignore[attr-defined]
        deadline = time.monotonic() + 2.0
        while any(c.transport is not None for c in targets) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
