"""flows.smtp against a real aiosmtpd server on 127.0.0.1 that misbehaves on cue (tests/smtp_server.py)."""

from __future__ import annotations

import base64
import email.policy
import pickle
import ssl
import time
import traceback
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path

import pytest

from paperdigest.errors import ConfigError, DeliveryError, PermanentDeliveryError, TransientDeliveryError
from paperdigest.delivery.smtp import (
    SmtpPermanentError,
    SmtpSender,
    SmtpTransientError,
    parse_smtp_url,
    redact_smtp_url,
)

try:
    from smtp_server import SelfSignedCert, SmtpTestServer, free_port, make_certificate
except ImportError:  # tests/ collected as a package
    from tests.smtp_server import (  # type: ignore[no-redef]
        SelfSignedCert,
        SmtpTestServer,
        free_port,
        make_certificate,
    )

SENDER = "digest@example.org"
USER, PASSWORD = "digest-bot", "hunter2-Sw0rdfish!"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCert:
    return make_certificate(tmp_path_factory.mktemp("smtp-cert"))


@pytest.fixture
def server() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as srv:
        yield srv


def make_message(i: int = 0, to: str = "alice@example.org") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Paper Digest <{SENDER}>"
    msg["To"] = to
    msg["Subject"] = f"Digest #{i}: Sparse Möbius attention"
    msg["Date"] = format_datetime(datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc))
    msg["Message-ID"] = f"<digest-{i}@paperdigest.test>"
    msg.set_content(f"Hello {to},\n.a line that starts with a dot\n.\nTwo new papers on gated sparse retrieval.\n")
    msg.add_alternative(f"<p>Hello</p>\n<p>Über {i}</p>\n", subtype="html")
    return msg


def sender_for(srv: SmtpTestServer, *, starttls: bool = False, timeout: float = 5.0,
               ssl_context: ssl.SSLContext | None = None) -> SmtpSender:
    return SmtpSender(srv.url, starttls=starttls, password=None, timeout=timeout, ssl_context=ssl_context)


def check_error(err: DeliveryError, to: str) -> None:
    text = str(err)
    assert "\n" not in text and "\r" not in text
    assert to in text


# -- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url, starttls, expected", [
    ("smtp://mail.example.org", False, ("smtp", "mail.example.org", 25, None)),
    ("smtp://mail.example.org", True, ("smtp", "mail.example.org", 587, None)),
    ("smtps://mail.example.org", False, ("smtps", "mail.example.org", 465, None)),
    ("smtps://mail.example.org", True, ("smtps", "mail.example.org", 465, None)),
    ("smtp://bot@MAIL.example.org:2525/", True, ("smtp", "mail.example.org", 2525, "bot")),
    ("smtp://me%40example.org@[::1]:26", False, ("smtp", "::1", 26, "me@example.org")),
])
def test_parse_smtp_url(url: str, starttls: bool, expected: tuple) -> None:
    assert parse_smtp_url(url, starttls=starttls) == expected


@pytest.mark.parametrize("url, reason", [
    ("http://mail.example.org", "scheme"),
    ("mail.example.org:25", "must look like"),
    ("smtp://", "no host"),
    ("smtp://mail.example.org:99999", "port"),
    ("smtp://mail.example.org:0", "port"),
    ("smtp://mail.example.org/inbox", "path"),
    ("smtp://bot:topsecret@mail.example.org", "PAPERDIGEST_SMTP_PASSWORD"),
])
def test_parse_smtp_url_rejects(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_smtp_url(url)
    assert reason in str(info.value) and "\n" not in str(info.value)
    assert "topsecret" not in str(info.value)


def test_redact_smtp_url() -> None:
    assert redact_smtp_url("smtp://bot:p@ss@mail.example.org:25") == "smtp://bot:***@mail.example.org:25"
    assert redact_smtp_url("smtp://bot@mail.example.org") == "smtp://bot@mail.example.org"


def test_login_settings_are_checked_before_connecting() -> None:
    with pytest.raises(ConfigError, match="PAPERDIGEST_SMTP_PASSWORD"):
        SmtpSender("smtp://bot@127.0.0.1:2525", starttls=False, password=None, timeout=1)
    with pytest.raises(ConfigError, match="unencrypted") as info:
        SmtpSender("smtp://bot@mail.example.org", starttls=False, password=PASSWORD, timeout=1)
    assert PASSWORD not in str(info.value)
    with pytest.raises(ConfigError, match="ASCII") as info:
        SmtpSender("smtps://bot@mail.example.org", starttls=False, password="pässwort-geheim", timeout=1)
    assert "pässwort" not in str(info.value) and "ä" not in str(info.value)
    with pytest.raises(ConfigError, match="timeout"):
        SmtpSender("smtp://127.0.0.1:2525", starttls=False, password=None, timeout=0)
    # Encrypted, or a relay on this machine: fine (nothing connects until send()).
    SmtpSender("smtp://bot@mail.example.org", starttls=True, password=PASSWORD, timeout=1)
    SmtpSender("smtps://bot@mail.example.org", starttls=False, password=PASSWORD, timeout=1)
    SmtpSender("smtp://bot@127.0.0.1:2525", starttls=False, password=PASSWORD, timeout=1)


# -- content ----------------------------------------------------------------------------------


def test_message_arrives_byte_identical(server: SmtpTestServer) -> None:
    msg = make_message(7)
    with sender_for(server) as smtp:
        smtp.send(msg, sender=f"Paper Digest <{SENDER}>", to="alice@example.org")
    [got] = server.received
    assert got.data == msg.as_bytes(policy=email.policy.SMTP)
    assert b"\r\n..a line that starts" not in got.data  # dot-stuffing was undone by the server
    assert b"\r\n.\r\n" in got.data
    assert got.mail_from == SENDER and got.rcpt_tos == ("alice@example.org",)
    assert got.message_id == "<digest-7@paperdigest.test>"
    assert "BODY=8BITMIME" in got.mail_options  # the html part is 8bit UTF-8
    assert (got.connection, got.tls, got.login) == (1, False, None)


def test_bytes_are_sent_as_they_are_with_bare_newlines_fixed(server: SmtpTestServer) -> None:
    crlf = b"Subject: raw\r\nMessage-ID: <raw-1@paperdigest.test>\r\n\r\nbody\r\n.dot\r\n"
    with sender_for(server) as smtp:
        smtp.send(crlf, sender=SENDER, to="bob@example.org")
        smtp.send(crlf.replace(b"\r\n", b"\n"), sender=SENDER, to="bob@example.org")
    assert [r.data for r in server.received] == [crlf, crlf]
    assert server.received[0].message_id == "<raw-1@paperdigest.test>"


def test_non_ascii_address_uses_smtputf8(server: SmtpTestServer) -> None:
    with sender_for(server) as smtp:
        smtp.send(make_message(), sender=SENDER, to="jörg@example.org")
    [got] = server.received
    assert got.rcpt_tos == ("jörg@example.org",) and "SMTPUTF8" in got.mail_options


def test_address_with_line_break_is_refused_without_sending(server: SmtpTestServer) -> None:
    with sender_for(server) as smtp, pytest.raises(SmtpPermanentError) as info:
        smtp.send(make_message(), sender=SENDER, to="eve@example.org\r\nRCPT TO:<x@example.org>")
    assert not info.value.affects_all and "\n" not in str(info.value)
    assert server.connections == 0


# -- TLS and AUTH -----------------------------------------------------------------------------


def test_starttls_with_verified_certificate(cert: SelfSignedCert) -> None:
    with SmtpTestServer(tls="starttls", cert=cert, require_starttls=True) as srv:
        with sender_for(srv, starttls=True, ssl_context=cert.client_context()) as smtp:
            smtp.send(make_message(1), sender=SENDER, to="alice@example.org")
        assert [r.tls for r in srv.received] == [True]
        # The same server refuses a client that skips STARTTLS: a config problem for the whole batch.
        with sender_for(srv) as smtp, pytest.raises(SmtpPermanentError) as info:
            smtp.send(make_message(2), sender=SENDER, to="bob@example.org")
        assert info.value.affects_all and info.value.code == 530
        check_error(info.value, "bob@example.org")
        assert len(srv.received) == 1


@pytest.mark.parametrize("case", ["default-trust", "other-cert", "wrong-host"])
def test_untrusted_certificate_is_permanent(case: str, cert: SelfSignedCert, tmp_path: Path) -> None:
    server_cert, client_ctx = cert, None  # default: the system trust store, which never heard of it
    if case == "other-cert":
        client_ctx = make_certificate(tmp_path, name="other").client_context()
    elif case == "wrong-host":
        server_cert = make_certificate(tmp_path, hosts=("mail.example.org",), name="elsewhere")
        client_ctx = server_cert.client_context()
    for tls in ("starttls", "smtps"):
        with SmtpTestServer(tls=tls, cert=server_cert) as srv:
            with sender_for(srv, starttls=tls == "starttls", ssl_context=client_ctx) as smtp:
                with pytest.raises(SmtpPermanentError) as info:
                    smtp.send(make_message(), sender=SENDER, to="alice@example.org")
            assert info.value.affects_all and "certificate" in str(info.value)
            check_error(info.value, "alice@example.org")
            assert srv.received == []


def test_starttls_not_offered_is_permanent(server: SmtpTestServer) -> None:
    with sender_for(server, starttls=True) as smtp, pytest.raises(SmtpPermanentError) as info:
        smtp.send(make_message(), sender=SENDER, to="alice@example.org")
    assert info.value.affects_all and "STARTTLS" in str(info.value)
    assert server.received == []


@pytest.mark.parametrize("tls", ["starttls", "smtps"])
def test_auth_success(tls: str, cert: SelfSignedCert) -> None:
    with SmtpTestServer(tls=tls, cert=cert, auth=(USER, PASSWORD)) as srv:
        with SmtpSender(srv.url_for(USER), starttls=tls == "starttls", password=PASSWORD, timeout=5,
                        ssl_context=cert.client_context()) as smtp:
            smtp.send(make_message(), sender=SENDER, to="alice@example.org")
            smtp.send(make_message(), sender=SENDER, to="bob@example.org")
        assert [(r.tls, r.login) for r in srv.received] == [(True, USER), (True, USER)]
        assert [ok for _, _, ok in srv.auth_attempts] == [True]  # one login for the batch


def test_auth_failure_is_permanent_and_never_shows_the_password(cert: SelfSignedCert) -> None:
    wrong = "Wr0ng-" + PASSWORD
    with SmtpTestServer(tls="starttls", cert=cert, auth=(USER, PASSWORD)) as srv:
        smtp = SmtpSender(srv.url_for(USER), starttls=True, password=wrong, timeout=5,
                          ssl_context=cert.client_context())
        with smtp, pytest.raises(SmtpPermanentError) as info:
            smtp.send(make_message(), sender=SENDER, to="alice@example.org")
        err = info.value
        assert err.code == 535 and err.affects_all
        assert USER in str(err) and "535" in str(err)
        check_error(err, "alice@example.org")
        shown = " ".join([str(err), repr(err), repr(err.args), repr(smtp), str(smtp),
                          "".join(traceback.format_exception(err))])
        for secret in (wrong, base64.b64encode(f"\0{USER}\0{wrong}".encode()).decode(),
                       base64.b64encode(wrong.encode()).decode()):
            assert secret not in shown
        assert srv.auth_attempts and all(login == USER and not ok for _, login, ok in srv.auth_attempts)
        assert srv.received == []


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("stage, affects_all", [("MAIL", True), ("RCPT", False), ("DATA", False)])
def test_451_then_accept(stage: str, affects_all: bool, server: SmtpTestServer) -> None:
    server.reply(stage, "451 4.3.0 try later", times=1)
    with sender_for(server) as smtp:
        with pytest.raises(SmtpTransientError) as info:
            smtp.send(make_message(1), sender=SENDER, to="alice@example.org")
        assert isinstance(info.value, TransientDeliveryError) and not isinstance(info.value, PermanentDeliveryError)
        assert info.value.code == 451 and info.value.affects_all is affects_all
        assert "451 4.3.0 try later" in str(info.value)
        check_error(info.value, "alice@example.org")
        assert server.received == []
        smtp.send(make_message(1), sender=SENDER, to="alice@example.org")
    assert [r.message_id for r in server.received] == ["<digest-1@paperdigest.test>"]
    assert server.connections == 1  # a 4xx reply keeps the session usable


def test_550_for_one_recipient_leaves_the_batch_going(server: SmtpTestServer) -> None:
    ghost = "ghost@example.org"
    server.reply("RCPT", "550 5.1.1 no such user", rcpt=ghost, times=None)
    failures = []
    with sender_for(server) as smtp:
        for to in ["alice@example.org", ghost, "carol@example.org", ghost, "dave@example.org"]:
            try:
                smtp.send(make_message(to=to), sender=SENDER, to=to)
            except PermanentDeliveryError as err:
                failures.append(err)
    assert [r.rcpt_tos for r in server.received] == [
        ("alice@example.org",), ("carol@example.org",), ("dave@example.org",)]
    assert len(failures) == 2
    for failure in failures:
        assert isinstance(failure, SmtpPermanentError) and failure.code == 550 and not failure.affects_all
        assert failure.recipient == ghost and "550 5.1.1 no such user" in str(failure)
        check_error(failure, ghost)
    assert server.connections == 1


def test_5xx_after_data_is_permanent_for_that_message(server: SmtpTestServer) -> None:
    server.reply("DATA", "554 5.7.1 message content rejected", rcpt="bob@example.org", times=None)
    with sender_for(server) as smtp:
        with pytest.raises(SmtpPermanentError) as info:
            smtp.send(make_message(), sender=SENDER, to="bob@example.org")
        smtp.send(make_message(), sender=SENDER, to="alice@example.org")
    assert info.value.code == 554 and not info.value.affects_all
    assert [r.rcpt_tos for r in server.received] == [("alice@example.org",)]


# -- broken connections -----------------------------------------------------------------------


def test_drop_after_data_is_transient_and_not_recorded(server: SmtpTestServer) -> None:
    server.drop("DATA")
    with sender_for(server) as smtp:
        with pytest.raises(SmtpTransientError) as info:
            smtp.send(make_message(1), sender=SENDER, to="alice@example.org")
        assert "may or may not have been queued" in str(info.value) and info.value.code is None
        check_error(info.value, "alice@example.org")
        assert server.received == []
        smtp.send(make_message(2), sender=SENDER, to="alice@example.org")  # reconnects
    assert [(r.message_id, r.connection) for r in server.received] == [("<digest-2@paperdigest.test>", 2)]
    assert server.connections == 2


def test_421_after_data_is_transient_and_reconnects(server: SmtpTestServer) -> None:
    server.close_with("421 4.3.2 shutting down", "DATA")
    with sender_for(server) as smtp:
        with pytest.raises(SmtpTransientError) as info:
            smtp.send(make_message(1), sender=SENDER, to="alice@example.org")
        assert info.value.code == 421 and "421 4.3.2 shutting down" in str(info.value)
        smtp.send(make_message(2), sender=SENDER, to="alice@example.org")
    assert [r.connection for r in server.received] == [2]


@pytest.mark.parametrize("farewell", [None, "421 4.4.2 idle for too long"])
def test_connection_dropped_between_messages_reconnects_transparently(
        farewell: str | None, server: SmtpTestServer) -> None:
    with sender_for(server) as smtp:
        smtp.send(make_message(1), sender=SENDER, to="alice@example.org")
        server.drop_connections(farewell)
        smtp.send(make_message(2), sender=SENDER, to="alice@example.org")
        smtp.send(make_message(3), sender=SENDER, to="alice@example.org")
        assert smtp.connections_opened == 2
    assert [r.connection for r in server.received] == [1, 2, 2]


def test_reconnects_only_once_per_message(server: SmtpTestServer) -> None:
    with sender_for(server) as smtp:
        smtp.send(make_message(1), sender=SENDER, to="alice@example.org")
        server.drop("MAIL", times=2)  # the reused connection dies, and so does the fresh one
        with pytest.raises(SmtpTransientError) as info:
            smtp.send(make_message(2), sender=SENDER, to="alice@example.org")
        assert "MAIL FROM" in str(info.value)
        smtp.send(make_message(3), sender=SENDER, to="alice@example.org")
    assert [(r.message_id, r.connection) for r in server.received] == [
        ("<digest-1@paperdigest.test>", 1), ("<digest-3@paperdigest.test>", 3)]
    assert server.connections == 3


def test_tls_handshake_failure_is_transient(server: SmtpTestServer) -> None:
    smtp = SmtpSender(server.url.replace("smtp://", "smtps://"), starttls=False, password=None, timeout=2)
    with smtp, pytest.raises(SmtpTransientError) as info:  # smtps:// pointed at a plain SMTP port
        smtp.send(make_message(), sender=SENDER, to="alice@example.org")
    assert info.value.affects_all and "TLS handshake" in str(info.value)
    check_error(info.value, "alice@example.org")


def test_server_down_is_transient() -> None:
    smtp = SmtpSender(f"smtp://127.0.0.1:{free_port()}", starttls=False, password=None, timeout=2)
    with smtp, pytest.raises(SmtpTransientError) as info:
        smtp.send(make_message(), sender=SENDER, to="alice@example.org")
    assert info.value.affects_all and "refused" in str(info.value)
    check_error(info.value, "alice@example.org")


def test_server_gone_mid_batch_is_transient_and_close_never_raises() -> None:
    srv = SmtpTestServer().start()
    smtp = SmtpSender(srv.url, starttls=False, password=None, timeout=2)
    with smtp:
        smtp.send(make_message(1), sender=SENDER, to="alice@example.org")
        srv.stop()
        with pytest.raises(SmtpTransientError) as info:
            smtp.send(make_message(2), sender=SENDER, to="bob@example.org")
        assert info.value.affects_all
        check_error(info.value, "bob@example.org")
    smtp.close()  # twice is fine too
    assert len(srv.received) == 1


@pytest.mark.parametrize("stage, affects_all", [("EHLO", True), ("DATA", False)])
def test_stalled_server_times_out(stage: str, affects_all: bool, server: SmtpTestServer) -> None:
    server.stall(stage, 5.0)
    start = time.monotonic()
    with sender_for(server, timeout=0.4) as smtp, pytest.raises(SmtpTransientError) as info:
        smtp.send(make_message(), sender=SENDER, to="alice@example.org")
    assert time.monotonic() - start < 2.0
    assert "timed out after 0.4 s" in str(info.value) and info.value.affects_all is affects_all
    check_error(info.value, "alice@example.org")
    assert server.received == []


def test_slow_server_within_the_timeout_is_fine(server: SmtpTestServer) -> None:
    server.stall("DATA", 0.2)
    with sender_for(server, timeout=3.0) as smtp:
        smtp.send(make_message(), sender=SENDER, to="alice@example.org")
    assert len(server.received) == 1


# -- batches ----------------------------------------------------------------------------------


def test_one_connection_for_a_batch_and_a_polite_quit(server: SmtpTestServer) -> None:
    with sender_for(server) as smtp:
        for i in range(30):
            smtp.send(make_message(i, f"reader{i}@example.org"), sender=SENDER, to=f"reader{i}@example.org")
        assert smtp.connections_opened == 1 and server.quits == 0
    assert server.connections == 1 and server.quits == 1
    assert [r.connection for r in server.received] == [1] * 30
    assert [r.message_id for r in server.received] == [f"<digest-{i}@paperdigest.test>" for i in range(30)]


def test_throughput_of_a_200_message_batch(server: SmtpTestServer) -> None:
    messages = [make_message(i, f"reader{i}@example.org") for i in range(200)]
    start = time.perf_counter()
    with sender_for(server) as smtp:
        for i, msg in enumerate(messages):
            smtp.send(msg, sender=SENDER, to=f"reader{i}@example.org")
    elapsed = time.perf_counter() - start
    print(f"\nSMTP throughput: 200 messages over 1 connection in {elapsed:.3f} s = {200 / elapsed:.0f} msg/s")
    assert len(server.received) == 200 and server.connections == 1


def test_errors_survive_pickling() -> None:
    err = SmtpPermanentError("a@example.org: refused", recipient="a@example.org", code=550, affects_all=False)
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), str(back), back.recipient, back.code, back.affects_all) == (
        SmtpPermanentError, str(err), "a@example.org", 550, False)
