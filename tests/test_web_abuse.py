"""Abuse and bad input against the real server: forged and expired tokens change nothing and get
a page that says what to do; a POST without a valid CSRF token gets 403; subscribing is limited
per address and per client; POST /subscribe answers the same for known and unknown addresses;
addresses are validated and normalised; personal profiles are bounded; every answer carries a
Content-Security-Policy; paper and reader text is escaped; the secret shows up nowhere."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from paperdigest.config import Config
from paperdigest.models import Listing, Match, Paper, RankedItem
from paperdigest.web.ratelimit import RateLimit, SubscribeLimits

from .conftest import NOW
from .test_pipeline import LISTING_A
from .web_server import (SECRET, Clock, LiveServer, check_every_answer, confirm_latest, link, outbox,
                         web_config, web_server)

HOSTILE_TITLE = '<script>alert("t")</script><img src=x onerror=alert(1)> & "Quoted" </textarea>'
HOSTILE_ABSTRACT = "An abstract with <iframe src=javascript:alert(2)></iframe> and [a](javascript:x) in it."


@pytest.fixture
def config(make_config, monkeypatch) -> Config:
    monkeypatch.setenv("PAPERDIGEST_SECRET", SECRET)
    return web_config(make_config)


__all__ = ["web_server"]  # the module's server fixture


@pytest.fixture
def live(web_server: LiveServer, config: Config) -> Iterator[LiveServer]:
    limits = SubscribeLimits(per_address=RateLimit(3, timedelta(hours=1)), per_client=RateLimit(12, timedelta(hours=1)))
    yield web_server.reset(config, Clock(NOW), limits)
    check_every_answer(web_server)


def active(live: LiveServer, address: str) -> int:
    live.subscribe(address, profile="inference")
    r = confirm_latest(live, address)
    assert "You are subscribed" in r.text
    return next(s.id for s in live.web.store.active_subscribers() if s.email == address)


def state(live: LiveServer) -> list[tuple[str, str]]:
    return [(s.email, s.status) for s in (live.web.store.subscriber(i) for i in range(1, 10)) if s]


def test_forged_and_altered_tokens_change_nothing(live: LiveServer) -> None:
    sid = active(live, "carol@example.org")
    good = live.web.links
    before = state(live)
    forged = [good.unsubscribe(sid)[:-3] + "AAA", good.manage(sid).replace(f"/{sid}.", f"/{sid + 1}."),
              good.feedback(sid, 1, "more").replace(".more.", ".less."), good.url("confirm/1.x.0.AAAAAAAAAAAAAAAAAAAAAA"),
              good.url("unsubscribe/" + "9" * 300), good.url("manage/not-a-token"),
              good.unsubscribe(sid).replace("/unsubscribe/", "/manage/")]  # a token of another purpose
    for url in forged:
        r = live.get(url)
        assert r.status_code == 400, url
        assert "This link is not valid" in r.text and "nothing was changed" in r.text and "/subscribe" in r.text
    live.client.cookies.clear()
    r = live.request("POST", forged[0], data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 400
    assert state(live) == before


def test_expired_confirmation_link(live: LiveServer, config: Config) -> None:
    live.subscribe("late@example.org", profile="inference")
    url = link(outbox(config, "late@example.org")[-1], "confirm")
    live.web.clock.now = NOW + timedelta(days=7, seconds=1)
    r = live.get(url)
    assert r.status_code == 410 and "too old" in r.text and "Subscribe again" in r.text
    assert state(live) == [("late@example.org", "pending")]
    live.web.clock.now = NOW + timedelta(days=6)
    assert live.get(url).status_code == 200  # within the seven days it works
    assert state(live) == [("late@example.org", "active")]


def test_posts_without_a_valid_csrf_token_get_403(live: LiveServer) -> None:
    sid = active(live, "carol@example.org")
    manage, unsubscribe = live.web.links.manage(sid), live.web.links.unsubscribe(sid)
    token = live.csrf("/subscribe")
    cases = [("/subscribe", {"email": "x@example.org", "profile": "inference"}),
             ("/subscribe", {"email": "x@example.org", "profile": "inference", "csrf": "forged"}),
             ("/subscribe/preview", {"profile": "inference"}),
             (manage, {"profile": "inference", "send_hour": "3"}),
             (unsubscribe, {}),  # not a one-click POST: the page's button carries a CSRF token
             (unsubscribe.replace("/unsubscribe/", "/resubscribe/"), {})]
    for url, data in cases:
        r = live.request("POST", url, data=data)
        assert r.status_code == 403 and "nothing was changed" in r.text, url
    live.client.cookies.clear()  # a valid-looking field without its cookie
    assert live.request("POST", "/subscribe", data={"email": "x@example.org", "profile": "inference",
                                                    "csrf": token}).status_code == 403
    assert state(live) == [("carol@example.org", "active")]
    assert live.web.store.subscriber(sid).settings.send_hour == 7


def test_rate_limits_per_address_and_per_client(live: LiveServer) -> None:
    for _ in range(3):
        assert live.subscribe("victim@example.org", profile="inference").status_code == 200
    r = live.subscribe("Victim@EXAMPLE.org ", profile="inference")  # the same address, normalised
    assert r.status_code == 429 and "Too many requests" in r.text and int(r.headers["Retry-After"]) > 0
    assert len(outbox(live.config, "victim@example.org")) == 3
    for i in range(8):  # 12 per client in all
        assert live.subscribe(f"reader{i}@example.org", profile="inference").status_code == 200
    assert live.subscribe("one-more@example.org", profile="inference").status_code == 429
    live.web.clock.now = NOW + timedelta(hours=1)
    assert live.subscribe("one-more@example.org", profile="inference").status_code == 200


def test_the_answer_does_not_tell_whether_an_address_is_known(live: LiveServer, config: Config) -> None:
    sid = active(live, "known@example.org")
    known = live.subscribe("known@example.org", keywords="anything else")
    unknown = live.subscribe("stranger@example.org", keywords="anything else")
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert {k: v for k, v in known.headers.items() if k != "date"} == {
        k: v for k, v in unknown.headers.items() if k != "date"}
    assert live.web.store.subscriber(sid).settings.profiles == ("inference",)  # unchanged until confirmed
    assert len(outbox(config, "known@example.org", subject="Confirm")) == 2


@pytest.mark.parametrize("address", ["", "no-at-sign", "two@@example.org", "a@b", "a b@example.org",
                                     "<x>@example.org", "x@example..org", "x@-example.org", "x@example.org\r\nBcc: y",
                                     "x@" + "a" * 250 + ".org", "x@example.123"])
def test_bad_addresses_are_refused(live: LiveServer, address: str) -> None:
    r = live.subscribe(address, profile="inference")
    assert r.status_code == 400 and "Enter one email address" in r.text
    assert state(live) == []


def test_addresses_are_normalised(live: LiveServer) -> None:
    for address in ("  Mixed.Case@Example.ORG", "mixed.case@example.org.", "MIXED.case@EXAMPLE.org"):
        assert live.subscribe(address, profile="inference").status_code == 200
    assert state(live) == [("mixed.case@example.org", "pending")]
    assert live.subscribe("reader@bücher.example", profile="inference").status_code == 200
    assert state(live)[-1] == ("reader@xn--bcher-kva.example", "pending")


@pytest.mark.parametrize("fields, message", [
    ({"keywords": ", ".join(f"term{i}" for i in range(21))}, "At most 20 keywords"),
    ({"keywords": "x" * 61}, "at most 60 characters"),
    ({"keywords": "!!!, ???"}, "has no word to match"),
    ({"description": "d" * 1001}, "at most 1000 characters"),
    ({"profile": "no-such-profile"}, "Choose profiles from the list"),
    ({}, "Choose at least one profile"),
    ({"profile": "inference", "timezone": "Mars/Olympus"}, "Choose a time zone"),
    ({"profile": "inference", "timezone": "../../etc/passwd"}, "Choose a time zone"),
    ({"profile": "inference", "send_hour": "24"}, "Choose an hour from 0 to 23"),
])
def test_personal_profiles_and_settings_are_bounded(live: LiveServer, fields: dict, message: str) -> None:
    r = live.subscribe("bounded@example.org", **fields)
    assert r.status_code == 400 and message in r.text
    assert state(live) == []
    r = live.request("POST", "/subscribe", content=b"x=" + b"y" * 20_000,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400


def test_reader_text_is_escaped_on_the_page(live: LiveServer) -> None:
    r = live.subscribe('"><script>alert(1)</script>@example.org', description=HOSTILE_TITLE,
                       keywords="<b>bold</b>, kv cache")
    assert r.status_code == 400
    assert "<script>" not in r.text and "</textarea><script" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text and "&lt;b&gt;bold&lt;/b&gt;" in r.text


def test_paper_text_is_escaped_in_pages_previews_and_feeds(live: LiveServer) -> None:
    store = live.web.store
    paper = Paper(title=HOSTILE_TITLE + " quantization", abstract=HOSTILE_ABSTRACT + " quantization.",
                  arxiv_id="2511.00001", url="javascript:alert(3)", authors=("<b>Mallory</b>",))
    store.ingest(Listing([paper]), source="hostile", hash_="h1", captured=None, now=NOW - timedelta(hours=1))
    item = RankedItem(paper, 3.0, (Match("quantization", "title+abstract", 3.0),))
    store.create_digest(profile="inference", profile_title="Efficient <em>inference</em>", expected_cursor=None,
                        new_cursor=1, day=NOW.date(), now=NOW, new_papers=1, matched=1, items=[(1, item)],
                        recipients=[])
    pages = [live.get("/digests/inference/2026-11-25/"), live.get("/subscribe?profile=inference"),
             live.post_form("/subscribe/preview", {"keywords": "quantization"}, form_page="/subscribe")]
    for page in pages:
        assert page.status_code == 200
        for live_markup in ("<script", "<iframe", "<img", "<b>Mallory", 'href="javascript', "<em>inference"):
            assert live_markup not in page.text
        assert "&lt;script&gt;" in page.text and "&lt;b&gt;Mallory&lt;/b&gt;" in page.text
    feed = live.get("/feeds/inference.atom")
    assert b"<script" not in feed.content and b'href="javascript' not in feed.content
    import feedparser

    (entry,) = feedparser.parse(feed.content).entries
    assert entry.title.startswith('<script>alert("t")</script>')  # shown as the text it is


def test_an_internal_error_shows_nothing_of_it(live: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    sid = active(live, "carol@example.org")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"driver said: {SECRET}")

    live.web.store.subscriber = broken
    with caplog.at_level(logging.ERROR, logger="paperdigest.web"):
        r = live.get(live.web.links.manage(sid))
    assert r.status_code == 500 and "Something went wrong" in r.text
    assert "RuntimeError" in caplog.text and SECRET not in caplog.text


def test_unknown_paths_and_methods(live: LiveServer) -> None:
    assert live.get("/nothing-here").status_code == 404
    assert live.request("DELETE", "/subscribe").status_code == 405
    assert live.get("/").status_code == 303
    css = live.get("/static/web.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert live.get("/style/email.css").headers["content-type"].startswith("text/css")


def test_unsubscribe_is_idempotent_and_cancels_what_was_queued(live: LiveServer, config: Config,
                                                               tmp_path: Path) -> None:
    live.web.clock.now = NOW - timedelta(hours=3)
    sid = active(live, "carol@example.org")  # her hour: 07:00 UTC
    store = live.web.store
    (tmp_path / "l.txt").write_text(LISTING_A)
    from paperdigest.pipeline import run_digest
    from paperdigest.pipeline.subscribers import queue_due

    run_digest(config, extra_snapshots=[str(tmp_path / "l.txt")], now=NOW - timedelta(hours=2))  # not her hour
    assert queue_due(store, config, now=NOW) == 1  # her hour: owed, not sent yet
    target = live.web.links.unsubscribe(sid)
    for _ in range(2):
        r = live.request("POST", target, data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 200 and "You are unsubscribed" in r.text
    rows = [(to, status) for _k, to, status, _e, _c in store.delivery_status() if to == "carol@example.org"]
    assert rows == [("carol@example.org", "cancelled")]
    run_digest(config, now=NOW)
    assert outbox(config, "carol@example.org", subject="new paper") == []
