"""The SMTP password (PAPERDIGEST_SMTP_PASSWORD) never shows: not on stderr with -v, not in the
--json report, not in error messages, not in any file the run writes (store, outbox, feeds,
Markdown), whether the login succeeds, is refused, or the server is down, and even when the
server echoes the password back in a reply.

Each case runs the real console script; the server's AUTH log proves the password was really
offered where it should have been.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

import pytest

from paperdigest.config import load_config

from .clirun import PROFILES, paperdigest, run_args, write_config, write_listings
from .smtp_server import SmtpTestServer

USER = "digest-bot"
PASSWORD = "Vy8#qz-Kestrel-Lantern-52!"
PAIRS = sum(len(r) for r in PROFILES.values())


def forms(secret: str) -> list[bytes]:
    """The password as text and as it would look encoded in a log, a URL or an AUTH exchange."""
    raw = secret.encode()
    return [raw, urllib.parse.quote(secret, safe="").encode(), base64.b64encode(raw),
            base64.b64encode(f"\0{USER}\0{secret}".encode()), secret.encode("utf-16-le")]


def assert_nowhere(folder: Path, *texts: str) -> None:
    for text in texts:
        for form in forms(PASSWORD):
            assert form not in text.encode(), "the password shows in the output"
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for form in forms(PASSWORD):
                assert form not in data, f"the password is written in {path.relative_to(folder)}"


def secret_run(folder: Path, smtp_url: str | None) -> tuple[int, str, str, dict]:
    config = write_config(folder, smtp_url)
    result = paperdigest(folder, run_args(config, write_listings(folder), "-v"),
                         PAPERDIGEST_SMTP_PASSWORD=PASSWORD)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr, json.loads(result.stdout)


def errors_of(report: dict) -> list[str]:
    return [e["error"] for d in report["digests"] for e in d["emails"] if e["error"]]


def test_login_refused(tmp_path: Path) -> None:
    with SmtpTestServer(auth=(USER, "a-different-password")) as srv:
        rc, out, err, report = secret_run(tmp_path, srv.url_for(USER))
        assert srv.auth_attempts and all(a[1] == USER and not a[2] for a in srv.auth_attempts)
    assert rc == 1 and srv.received == []
    errors = errors_of(report)
    assert len(errors) == PAIRS and all(f"login as '{USER}' refused" in e for e in errors)
    assert "535" in err
    assert_nowhere(tmp_path, out, err)


def test_server_down(tmp_path: Path) -> None:
    srv = SmtpTestServer()  # never started: connection refused
    rc, out, err, report = secret_run(tmp_path, srv.url_for(USER))
    assert rc == 1 and all("connection refused" in e for e in errors_of(report))
    assert_nowhere(tmp_path, out, err)


def test_server_that_echoes_the_password_in_a_reply(tmp_path: Path) -> None:
    with SmtpTestServer(auth=(USER, PASSWORD)) as srv:
        srv.reply("RCPT", f"550 5.7.1 {PASSWORD} is not an address", rcpt="carol@example.org", times=None)
        rc, out, err, report = secret_run(tmp_path, srv.url_for(USER))
        assert [a[2] for a in srv.auth_attempts] == [True]
        assert len(srv.received) == PAIRS - 1 and all(r.login == USER for r in srv.received)
        for r in srv.received:
            assert all(form not in r.data for form in forms(PASSWORD))
    assert rc == 1
    (error,) = errors_of(report)
    assert "550 5.7.1 *** is not an address" in error
    assert_nowhere(tmp_path, out, err)


def test_outbox_with_the_password_set(tmp_path: Path) -> None:
    rc, out, err, report = secret_run(tmp_path, None)
    assert rc == 0 and len(list((tmp_path / "out" / "outbox").glob("*.eml"))) == PAIRS
    assert_nowhere(tmp_path, out, err)


def test_config_repr_holds_no_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERDIGEST_SMTP_PASSWORD", PASSWORD)
    config = load_config(write_config(tmp_path, f"smtp://{USER}@127.0.0.1:2525"))
    assert config.email.password == PASSWORD  # the run really has it ...
    assert PASSWORD not in repr(config) and PASSWORD not in str(config.email)  # ... but never shows it
