"""Web subscribers on a real PostgreSQL server (skipped without one, as tests/test_postgres.py):
the schema-2 store upgraded, and a subscriber confirmed, served at their hour once, and cancelled."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from paperdigest.config import load_config
from paperdigest.pipeline import run_digest
from paperdigest.pipeline.subscribers import next_send_time, queue_due
from paperdigest.store import SCHEMA_VERSION, ReaderSettings, Store

from .conftest import NOW
from .test_pipeline import LISTING_A
from .test_postgres import pg_admin, pg_config, pg_url, rows  # noqa: F401 - fixtures
from .web_server import SECRET, WEB_TOML


def test_store_from_schema_2_is_upgraded(pg_url: str) -> None:  # noqa: F811
    Store(pg_url).close()
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        for table in ("feedback", "subscriptions", "subscribers"):
            conn.execute(sa.text(f"DROP TABLE {table}"))
        conn.execute(sa.text("ALTER TABLE deliveries DROP COLUMN subscriber_id"))
        conn.execute(sa.text("UPDATE meta SET value = '2' WHERE key = 'schema_version'"))
    engine.dispose()
    with Store(pg_url) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.request_subscription("a@example.org", ReaderSettings(("p",), "UTC", 7), nonce="n", now=NOW) == 1


def test_a_subscriber_is_served_once_at_their_hour(pg_config: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("PAPERDIGEST_SECRET", SECRET)
    config_path = tmp_path / "web.toml"
    config_path.write_text(pg_config.read_text() + WEB_TOML)
    config = load_config(config_path)
    (tmp_path / "a.txt").write_text(LISTING_A)
    before = NOW - timedelta(hours=3)
    with Store(config.store_url) as store:
        settings = ReaderSettings(("inference",), "Asia/Kathmandu", 13, keywords=("graph neural network",))
        sid = store.request_subscription("k@example.org", settings, nonce="n", now=before)
        assert store.confirm_subscription(sid, "n", now=before,
                                          next_send=lambda tz, h: next_send_time(tz, h, before)) == "confirmed"
        assert store.subscriber(sid).next_send_at == NOW + timedelta(minutes=15)  # 13:00 at +05:45
    run_digest(config, extra_snapshots=[str(tmp_path / "a.txt")], now=NOW)  # digests made, not her hour yet
    report = run_digest(config, now=NOW + timedelta(minutes=15))
    assert sorted(e.status for e in report.other_emails) == ["outbox", "outbox"]  # inference and her own
    with Store(config.store_url) as store:
        assert queue_due(store, config, now=NOW + timedelta(days=1)) == 0  # each digest owed once
        sent = rows(store, "SELECT status FROM deliveries WHERE subscriber_id IS NOT NULL")
        assert sent == [("sent",), ("sent",)]
        store.unsubscribe(sid, now=NOW + timedelta(days=1))
        assert store.subscriber(sid).status == "unsubscribed" and store.active_subscribers() == []
