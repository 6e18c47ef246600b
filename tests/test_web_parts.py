"""The web app's parts without a server: signed tokens, the secret, reading addresses, the clock
arithmetic of send hours and digests on schedule, the store's subscriber bookkeeping and its
migration, personal profiles in a run, the [web] config, and the CLI's refusals."""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperdigest.config import ScheduleConfig, load_config
from paperdigest.errors import ConfigError
from paperdigest.pipeline import run_digest
from paperdigest.pipeline.subscribers import (default_send_hour, digest_due, next_send_time, personal_profile,
                                              queue_due)
from paperdigest.store import SCHEMA_VERSION, ReaderSettings, Store
from paperdigest.web.forms import FormError, normalize_email
from paperdigest.delivery.signing import BadToken, ExpiredToken, Signer, load_secret

from .clirun import PAPERDIGEST
from .conftest import NOW
from .test_pipeline import LISTING_A
from .web_server import SECRET, WEB_TOML

UTC = timezone.utc


def test_tokens_are_signed_per_purpose_and_expire() -> None:
    signer, other = Signer(SECRET), Signer(SECRET[::-1])
    token = signer.sign("confirm", 12, "n0nce", expires=NOW + timedelta(days=7))
    assert signer.verify("confirm", token, NOW, fields=2) == ["12", "n0nce"]
    with pytest.raises(ExpiredToken):
        signer.verify("confirm", token, NOW + timedelta(days=7, seconds=1), fields=2)
    for bad in (token.replace("12.", "13.", 1), token[:-1] + ("A" if token[-1] != "A" else "B"), token + ".x", "",
                "a" * 500, "é.0.xx"):
        with pytest.raises(BadToken):
            signer.verify("confirm", bad, NOW, fields=2)
    with pytest.raises(BadToken):
        signer.verify("unsubscribe", signer.sign("manage", 12), NOW, fields=1)  # another purpose
    with pytest.raises(BadToken):
        other.verify("confirm", token, NOW, fields=2)  # another secret
    assert SECRET not in repr(signer) and SECRET not in token


def test_the_secret_is_required_and_never_repeated() -> None:
    for env in ({}, {"PAPERDIGEST_SECRET": "   "}, {"PAPERDIGEST_SECRET": "short-but-secret"}):
        with pytest.raises(ConfigError) as e:
            load_secret(env)
        assert "PAPERDIGEST_SECRET" in str(e.value) and "short-but-secret" not in str(e.value)
    assert load_secret({"PAPERDIGEST_SECRET": SECRET}) == SECRET


def test_addresses() -> None:
    assert normalize_email(" Ana.Maria+digest@Example.COM ") == "ana.maria+digest@example.com"
    assert normalize_email("x@bücher.example") == "x@xn--bcher-kva.example"
    for bad in ("x", "x@y", "@example.org", "x@example.org, y@example.org", "x@exa mple.org", "x\n@example.org"):
        with pytest.raises(FormError):
            normalize_email(bad)


def test_next_send_time_keeps_the_local_hour_across_dst() -> None:
    berlin = "Europe/Berlin"
    assert next_send_time(berlin, 7, datetime(2026, 3, 28, 12, tzinfo=UTC)) == datetime(2026, 3, 29, 5, tzinfo=UTC)
    assert next_send_time(berlin, 7, datetime(2026, 3, 27, 12, tzinfo=UTC)) == datetime(2026, 3, 28, 6, tzinfo=UTC)
    assert next_send_time("UTC", 7, NOW) == NOW + timedelta(days=1)  # strictly after
    assert next_send_time("UTC", 7, NOW - timedelta(seconds=1)) == NOW
    assert next_send_time("Asia/Tokyo", 8, NOW) == datetime(2026, 11, 25, 23, tzinfo=UTC)


def test_schedule_arithmetic() -> None:
    daily = ScheduleConfig("0 7 * * *", "UTC")
    assert default_send_hour(daily) == 7
    assert default_send_hour(ScheduleConfig("30 6,18 * * *", "Europe/Paris")) == 6
    assert digest_due(daily, None, NOW)
    assert not digest_due(daily, NOW, NOW + timedelta(hours=23))
    assert digest_due(daily, NOW, NOW + timedelta(days=1))
    assert digest_due(daily, NOW - timedelta(hours=1), NOW)


def settings(*profiles: str, keywords: tuple[str, ...] = (), description: str = "") -> ReaderSettings:
    return ReaderSettings(profiles=profiles, timezone="UTC", send_hour=7, keywords=keywords, description=description)


def at(hours: int) -> datetime:
    return NOW + timedelta(hours=hours)


def test_store_subscriber_lifecycle(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        sid = store.request_subscription("a@example.org", settings("p"), nonce="n1", now=NOW)
        assert store.subscriber(sid).status == "pending"
        assert store.request_subscription("a@example.org", settings("q"), nonce="n2", now=NOW) == sid
        nxt = lambda tz, hour: next_send_time(tz, hour, NOW)  # noqa: E731
        assert store.confirm_subscription(sid, "n1", now=NOW, next_send=nxt) == "stale"  # replaced by n2
        assert store.confirm_subscription(sid, "n2", now=NOW, next_send=nxt) == "confirmed"
        assert store.confirm_subscription(sid, "n2", now=NOW, next_send=nxt) == "already"
        sub = store.subscriber(sid)
        assert (sub.status, sub.settings.profiles, sub.next_send_at) == ("active", ("q",), NOW + timedelta(days=1))
        assert store.unsubscribe(sid, now=NOW) and not store.unsubscribe(sid, now=NOW)
        assert store.subscriber(sid).next_send_at is None
        assert store.resubscribe(sid, next_send=nxt) and store.subscriber(sid).status == "active"
        assert store.record_feedback(sid, 999, "more", now=NOW) is None


def test_queue_owed_is_compare_and_set_and_owes_each_digest_once(make_config, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PAPERDIGEST_SECRET", SECRET)
    config = load_config(make_config(WEB_TOML))
    (tmp_path / "a.txt").write_text(LISTING_A)
    with Store(config.store_url) as store:
        sid = store.request_subscription("z@example.org", settings("inference"), nonce="n", now=at(-3))
        store.confirm_subscription(sid, "n", now=at(-3), next_send=lambda tz, h: next_send_time(tz, h, at(-3)))
    run_digest(config, extra_snapshots=[str(tmp_path / "a.txt")], now=at(-2))
    with Store(config.store_url) as store:
        (due,) = store.due_subscribers(NOW)
        assert store.queue_owed(sid, expected=due[1], following=at(24), now=NOW) == 1
        assert store.queue_owed(sid, expected=due[1], following=at(24), now=NOW) is None  # another run was first
        assert store.due_subscribers(NOW) == []
        assert queue_due(store, config, now=at(24)) == 0  # nothing new: the digest is owed once


def test_a_personal_profile_with_only_a_description_ranks_nothing_and_breaks_nothing(make_config, tmp_path: Path,
                                                                                       monkeypatch) -> None:
    monkeypatch.setenv("PAPERDIGEST_SECRET", SECRET)
    config = load_config(make_config(WEB_TOML))
    (tmp_path / "a.txt").write_text(LISTING_A)
    with Store(config.store_url) as store:
        sid = store.request_subscription("d@example.org", settings(description="plants and their taxonomy"),
                                         nonce="n", now=at(-3))
        store.confirm_subscription(sid, "n", now=at(-3), next_send=lambda tz, h: next_send_time(tz, h, at(-3)))
        profile = personal_profile(store.subscriber(sid))
    assert profile.keywords == {} and profile.description == "plants and their taxonomy" and profile.liked == ()
    report = run_digest(config, extra_snapshots=[str(tmp_path / "a.txt")], now=NOW)
    assert not report.failed
    with Store(config.store_url) as store:
        assert store.profile_cursor(profile.name) is not None  # its (empty) digest was made
        assert [r for r in store.delivery_status() if r[1] == "d@example.org"] == []  # and nothing sent


def test_store_from_schema_2_is_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    Store(f"sqlite:///{db}").close()
    con = sqlite3.connect(db)
    for table in ("feedback", "subscriptions", "subscribers"):
        con.execute(f"DROP TABLE {table}")
    con.execute("ALTER TABLE deliveries DROP COLUMN subscriber_id")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with Store(f"sqlite:///{db}") as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert {"subscribers", "subscriptions", "feedback"} <= set(sa.inspect(store.engine).get_table_names())
        assert "subscriber_id" in {c["name"] for c in sa.inspect(store.engine).get_columns("deliveries")}
        assert store.request_subscription("a@example.org", settings("p"), nonce="n", now=NOW) == 1


@pytest.mark.parametrize("table, message", [
    ('[web]\nhost = "0.0.0.0"', 'web: missing key "base_url"'),
    ('[web]\nbase_url = "ftp://x.example/"', 'web: key "base_url" must be an http or https URL'),
    ('[web]\nbase_url = "https://x.example/?a=1"', 'key "base_url" must be an http or https URL'),
    ('[web]\nbase_url = "https://x.example/"\nport = 70000', 'key "port" must be at most 65535'),
    ('[web]\nbase_url = "https://x.example/"\nsecret = "no"', 'web: unknown key "secret"'),
])
def test_web_config_is_validated(make_config, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        load_config(make_config(table))


def test_web_command_refuses_without_secret_or_web_table(make_config, tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERDIGEST_")}
    cases = [(make_config(WEB_TOML), {}, "PAPERDIGEST_SECRET is not set"),
             (make_config(WEB_TOML), {"PAPERDIGEST_SECRET": "tiny-secret"}, "PAPERDIGEST_SECRET is too short"),
             (make_config("", name="plain.toml"), {"PAPERDIGEST_SECRET": SECRET}, "no [web] table")]
    for config, extra, message in cases:
        r = subprocess.run([str(PAPERDIGEST), "web", "--config", str(config), "--port", "1"], env={**env, **extra},
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "tiny-secret" not in r.stderr and SECRET not in r.stderr
        assert r.stdout == ""


def test_the_web_command_serves_and_never_logs_the_secret(make_config, tmp_path: Path) -> None:
    import os
    import signal
    import time

    import httpx

    from .web_server import free_socket

    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PAPERDIGEST_")}, "PAPERDIGEST_SECRET": SECRET}
    config = make_config(WEB_TOML)
    proc = subprocess.Popen([str(PAPERDIGEST), "-v", "web", "--config", str(config), "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/subscribe", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "paperdigest web did not start"
                time.sleep(0.1)
        assert r.status_code == 200 and "Subscribe" in r.text
        answers = [httpx.get(f"http://127.0.0.1:{port}{p}") for p in (
            "/confirm/1.x.0.forged", "/manage/" + "9" * 300, "/feeds/nope.xml", "/nothing")]
        answers.append(httpx.post(f"http://127.0.0.1:{port}/subscribe", data={"email": "x@example.org"}))
        assert [a.status_code for a in answers] == [400, 400, 404, 404, 403]
        assert all(SECRET not in a.text for a in answers)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert SECRET not in out + err
    assert f"listening on http://127.0.0.1:{port}/" in err


def test_a_run_with_web_needs_the_secret(make_config, tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERDIGEST_")}
    r = subprocess.run([str(PAPERDIGEST), "run", "--without-prefect", "--config", str(make_config(WEB_TOML))],
                       env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2 and "PAPERDIGEST_SECRET is not set" in r.stderr and len(r.stderr.splitlines()) == 1


def test_with_web_the_deployment_runs_hourly_and_scheduled(make_config, monkeypatch) -> None:
    from paperdigest.flows.digest import deployment

    monkeypatch.setenv("PAPERDIGEST_SECRET", SECRET)
    config = load_config(make_config(WEB_TOML + '\n[schedule]\ncron = "15 6 * * *"\ntimezone = "Europe/Berlin"\n'))
    served = deployment(config)
    (schedule,) = served.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("15 * * * *", "Europe/Berlin")
    assert served.parameters == {"config_path": str(config.path.resolve()), "scheduled": True}


def test_a_config_recipient_who_also_subscribes_gets_each_digest_once(make_config, tmp_path: Path,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("PAPERDIGEST_SECRET", SECRET)
    config = load_config(make_config(WEB_TOML))
    (tmp_path / "a.txt").write_text(LISTING_A)
    with Store(config.store_url) as store:  # alice is one of the config's recipients of "inference"
        sid = store.request_subscription("alice@example.org", settings("inference"), nonce="n", now=at(-3))
        store.confirm_subscription(sid, "n", now=at(-3), next_send=lambda tz, h: next_send_time(tz, h, at(-3)))
    run_digest(config, extra_snapshots=[str(tmp_path / "a.txt")], now=NOW)
    with Store(config.store_url) as store:
        rows = [r for r in store.delivery_status() if r[1] == "alice@example.org"]
        assert [(key, status) for key, _to, status, _e, _c in rows] == [("inference/2026-11-25", "sent")]


def test_web_and_scheduled_runs_document_themselves() -> None:
    from click.testing import CliRunner

    from paperdigest.cli import main

    runner = CliRunner()
    web = runner.invoke(main, ["web", "--help"])
    assert web.exit_code == 0 and "--host" in web.output and "--port" in web.output and "PAPERDIGEST_SECRET" in web.output
    run = runner.invoke(main, ["run", "--help"])
    assert run.exit_code == 0 and "--scheduled" in run.output
