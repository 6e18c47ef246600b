"""The web app against a real uvicorn server on 127.0.0.1, with httpx, and real runs (in-process,
outbox delivery) in between: subscribe, confirm through the emailed link, receive digests with
one's own links, give feedback, manage, leave in one click and receive nothing after; feeds with
conditional GET; past digests as pages; readers in different time zones served at their hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest

from paperdigest.config import Config, load_config
from paperdigest.pipeline import run_digest
from paperdigest.pipeline.subscribers import personal_profile

from .conftest import NOW
from .clirun import LISTING_B
from .test_pipeline import LISTING_A
from .web_server import (SECRET, WEB_TOML, Clock, LiveServer, check_every_answer, confirm_latest, html_part, link,
                         outbox, text_part, web_config, web_server)


@pytest.fixture
def config(make_config, monkeypatch) -> Config:
    monkeypatch.setenv("PAPERDIGEST_SECRET", SECRET)
    return web_config(make_config)


@pytest.fixture
def listings(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(LISTING_A)
    b.write_text(LISTING_B)
    return a, b


__all__ = ["web_server"]  # the module's server fixture


@pytest.fixture
def live(web_server: LiveServer, config: Config) -> Iterator[LiveServer]:
    yield web_server.reset(config, Clock(NOW - timedelta(hours=1)))
    check_every_answer(web_server)


def run(config: Config, when, *snapshots: Path, scheduled: bool = False):
    return run_digest(config, extra_snapshots=[str(s) for s in snapshots], now=when, scheduled=scheduled)


def test_subscribe_confirm_receive_unsubscribe_then_nothing(live: LiveServer, config: Config, listings) -> None:
    r = live.subscribe("Carol@Example.ORG", profile="inference", keywords="graph neural network, herbarium")
    assert r.status_code == 200 and "Check your inbox" in r.text
    (confirmation,) = outbox(config, "carol@example.org", subject="Confirm")
    assert link(confirmation, "confirm") in html_part(confirmation)
    r = confirm_latest(live, "carol@example.org")
    assert r.status_code == 200 and "You are subscribed" in r.text and "07:00 (UTC)" in r.text

    run(config, NOW, listings[0])  # 07:00 UTC: the digests are made, and 07:00 is carol's hour
    mails = outbox(config, "carol@example.org", subject="new paper")
    assert sorted(str(m["Subject"]).split(":")[0] for m in mails) == [
        "[paperdigest] Efficient inference", "[paperdigest] Your personal digest"]
    for m in mails:
        unsubscribe = str(m["List-Unsubscribe"]).strip()
        assert unsubscribe.startswith("<https://digest.example.org/unsubscribe/") and unsubscribe.endswith(">")
        assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = text_part(m)
        assert "More like this: https://digest.example.org/feedback/" in text
        assert link(m, "manage") in html_part(m) and link(m, "unsubscribe") in text
    personal = next(m for m in mails if "personal" in str(m["Subject"]))
    assert "Gardens of Graphs" in text_part(personal)
    (alice,) = outbox(config, "alice@example.org")  # the config's recipients keep today's headers
    assert alice["List-Unsubscribe"] == "<mailto:unsubscribe@example.org>" and alice["List-Unsubscribe-Post"] is None
    assert "feedback/" not in text_part(alice) and "manage/" not in text_part(alice)

    # One click, as a mail provider sends it (RFC 8058): no cookie, no CSRF token, no page first.
    target = str(mails[0]["List-Unsubscribe"]).strip().strip("<>")
    live.client.cookies.clear()
    r = live.request("POST", target, content=b"List-Unsubscribe=One-Click",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and "You are unsubscribed" in r.text
    assert live.web.store.subscriber(1).status == "unsubscribed"

    run(config, NOW + timedelta(days=1), listings[1])
    assert len(outbox(config, "carol@example.org")) == 3  # the confirmation and the two digests: nothing after
    assert len(outbox(config, "alice@example.org")) == 2
    page = live.get(target)
    assert "Resubscribe" in page.text and "gets no more paperdigest emails" in page.text


def test_feedback_manage_and_resubscribe(live: LiveServer, config: Config, listings) -> None:
    live.subscribe("dan@example.org", keywords="graph neural network")
    confirm_latest(live, "dan@example.org")
    run(config, NOW, listings[0])
    (digest,) = outbox(config, "dan@example.org", subject="personal")
    r = live.get(link(digest, "feedback"))
    assert r.status_code == 200 and "more like this" in r.text and "Gardens of Graphs" in r.text
    sub = live.web.store.subscriber(1)
    assert [p.title for p in sub.liked] == ["Gardens of Graphs: Message Passing for Botanical Taxonomy"]
    assert personal_profile(sub).liked == ("Gardens of Graphs: Message Passing for Botanical Taxonomy",)

    manage = link(digest, "manage")
    page = live.get(manage)  # the reader's page offers the papers sent lately, to rate there too
    assert "Papers you were sent lately" in page.text and "Gardens of Graphs" in page.text
    assert "<strong>More like this</strong>" in page.text and "/feedback/1." in page.text
    r = live.post_form(manage, {"profile": "inference", "keywords": "botany", "description": "Plants and graphs",
                                "send_hour": "9", "timezone": "Europe/Berlin"})
    assert r.status_code == 200 and "Saved" in r.text
    sub = live.web.store.subscriber(1)
    assert (sub.settings.profiles, sub.settings.keywords, sub.settings.send_hour, sub.settings.timezone) == (
        ("inference",), ("botany",), 9, "Europe/Berlin")
    assert sub.next_send_at == NOW.replace(hour=8)  # 09:00 in Berlin is 08:00 UTC in November
    private = live.get(f"/feeds/private/{sub.feed_key}.atom")
    assert private.status_code == 200 and private.headers["content-type"].startswith("application/atom+xml")
    assert "Gardens of Graphs" in private.text

    unsubscribe = link(digest, "unsubscribe")
    r = live.post_form(unsubscribe, {"List-Unsubscribe": "One-Click"})
    assert "You are unsubscribed" in r.text
    assert live.get(f"/feeds/private/{sub.feed_key}.atom").status_code == 404  # the private feed ends with it
    r = live.post_form(unsubscribe.replace("/unsubscribe/", "/resubscribe/"), {}, form_page=unsubscribe)
    assert r.status_code == 200 and "Welcome back" in r.text
    assert live.web.store.subscriber(1).status == "active"


def test_feeds_are_served_with_validators_and_304(live: LiveServer, config: Config, listings) -> None:
    run(config, NOW, listings[0])
    for suffix, kind in (("xml", "application/rss+xml"), ("atom", "application/atom+xml")):
        r = live.get(f"/feeds/inference.{suffix}")
        assert r.status_code == 200 and r.headers["content-type"] == f"{kind}; charset=utf-8"
        etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
        parsed = feedparser.parse(r.content)
        assert not parsed.bozo and len(parsed.entries) == 2
        assert live.get(f"/feeds/inference.{suffix}", headers={"If-None-Match": etag}).status_code == 304
        again = live.get(f"/feeds/inference.{suffix}", headers={"If-Modified-Since": modified})
        assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
        assert live.get(f"/feeds/inference.{suffix}", headers={"If-None-Match": '"other"'}).status_code == 200
    before = live.get("/feeds/inference.xml").headers["ETag"]
    live.web.clock.now = NOW + timedelta(days=1)
    run(config, NOW + timedelta(days=1), listings[1])
    r = live.get("/feeds/inference.xml", headers={"If-None-Match": before})
    assert r.status_code == 200 and r.headers["ETag"] != before and len(feedparser.parse(r.content).entries) == 3
    assert live.get("/feeds/nope.xml").status_code == 404
    assert live.get("/feeds/inference.json").status_code == 404
    assert live.get("/feeds/private/" + "A" * 32 + ".xml").status_code == 404


def test_past_digests_are_pages_with_reasons(live: LiveServer, config: Config, listings) -> None:
    run(config, NOW, listings[0])
    r = live.get("/digests/inference/")
    assert r.status_code == 200 and "2026-11-25" in r.text and "2 papers" in r.text
    page = live.get("/digests/inference/2026-11-25/")
    assert page.status_code == 200
    assert "Quantization Without Calibration Data" in page.text and "Why you see this" in page.text
    assert "quantization (title+abstract" in page.text
    assert live.get("/digests/inference/2020-01-01/").status_code == 404
    assert live.get("/digests/reader_1/").status_code == 404  # personal digests are private


def test_two_time_zones_each_get_their_digest_in_their_own_hour(live: LiveServer, config: Config,
                                                                 listings) -> None:
    for address, zone, hour in (("kenji@example.org", "Asia/Tokyo", "8"), ("nora@example.org", "America/New_York", "7")):
        r = live.subscribe(address, profile="inference", timezone=zone, send_hour=hour)
        assert r.status_code == 200
        assert confirm_latest(live, address).status_code == 200

    def digests_to(address: str) -> int:
        return len(outbox(config, address, subject="Efficient inference"))

    # Hourly, as the deployment of a config with [web] runs: the digest is made at [schedule] cron
    # (07:00 UTC) only; each reader gets it at 08:00 Tokyo (23:00 UTC) or 07:00 New York (12:00 UTC).
    seen = []
    for hours in (0, 1, 4, 5, 6, 15, 16, 17):  # 07:00 to 00:00 UTC, around each reader's hour
        when = NOW + timedelta(hours=hours)
        run(config, when, listings[0], scheduled=True)
        seen.append((when.hour, digests_to("nora@example.org"), digests_to("kenji@example.org")))
    first_nora = next(h for h, n, _ in seen if n)
    first_kenji = next(h for h, _, k in seen if k)
    assert (first_nora, first_kenji) == (12, 23)
    assert seen[-1][1:] == (1, 1)  # once each, though every hourly run saw the same digest owed
    assert len(outbox(config, "alice@example.org")) == 1  # one digest a day for the config's readers too


def test_serve_app_needs_web_config(make_config, monkeypatch) -> None:
    from paperdigest.errors import ConfigError
    from paperdigest.web.server import uvicorn_server

    monkeypatch.setenv("PAPERDIGEST_SECRET", SECRET)
    config = load_config(make_config(WEB_TOML))
    assert config.web is not None and config.web.base_url == "https://digest.example.org/"
    with pytest.raises(ConfigError, match=r"no \[web\] table"):
        uvicorn_server(load_config(make_config("", name="plain.toml")), SECRET)


def test_a_paper_filled_in_later_changes_the_served_feed(live: LiveServer, config: Config, tmp_path: Path) -> None:
    """The served feed is cached until it changes: a paper whose abstract arrives later changes it."""
    import json

    def capture(name: str, abstract: str) -> Path:
        item = {"id": "https://huggingface.co/papers/2611.40001", "url": "https://huggingface.co/papers/2611.40001",
                "title": "Quantization of Kelp Census Classifiers", "content_text": abstract}
        path = tmp_path / name
        path.write_text(json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [item]}))
        return path

    run(config, NOW, capture("first.json", ""))
    first = live.get("/feeds/inference.atom")
    assert "not yet available" in first.text
    live.web.clock.now = NOW + timedelta(hours=2)
    run(config, NOW + timedelta(hours=1), capture("second.json", "We quantize the classifiers that count kelp."))
    second = live.get("/feeds/inference.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and "count kelp" in second.text
    assert second.headers["ETag"] != first.headers["ETag"]
