"""RSS 2.0 and Atom feeds (flows/feeds.py), read back with feedparser."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree

import feedparser
import pytest

from paperdigest.delivery.feeds import atom_id, render_feed
from paperdigest.models import FeedEntry, Paper
from tests.sample_digest import CREATED, ITEMS, sample_entries

UPDATED = CREATED + timedelta(minutes=5)
ATOM = "{http://www.w3.org/2005/Atom}"


def feed(entries=None, kind: str = "rss", **kw) -> bytes:
    args = dict(feed_id="urn:paperdigest:feed:efficient-inference", title="paperdigest: Efficient inference",
                link="https://digest.example.org/", self_url=f"https://digest.example.org/feeds/efficient-inference.{kind}.xml",
                description="Papers matching the profile 'Efficient inference'", updated=UPDATED)
    args.update(kw)
    return render_feed(sample_entries() if entries is None else entries, kind=kind, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feed_reads_back(kind: str) -> None:
    data = feed(kind=kind)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    d = feedparser.parse(data)
    assert not d.bozo, d.get("bozo_exception")
    assert d.version == ("rss20" if kind == "rss" else "atom10")
    assert d.feed.title == "paperdigest: Efficient inference"
    entries = sample_entries()
    assert len(d.entries) == len(entries)
    # Order as given (newest first), not feedgen's default prepend.
    assert [e.title for e in d.entries] == [x.paper.title for x in entries]
    ids = [e.id for e in d.entries]
    assert len(set(ids)) == len(ids)
    assert d.entries[0].link == "https://example.org/papers/2503.10001"
    assert d.entries[1].link == "https://arxiv.org/abs/2503.10002"
    for parsed, entry in zip(d.entries, entries):
        assert datetime(*parsed.published_parsed[:6], tzinfo=timezone.utc) == entry.added
    first = d.entries[0].get("content", [{}])[0].get("value") if kind == "atom" else d.entries[0].description
    assert "Why you see this (score 3.50):" in first
    assert "speculative decoding (title+abstract, +2.50)" in first
    assert "AI summary:" in first and "Speculative decoding speeds up" in first


def test_rss_guid_not_permalink_and_dates() -> None:
    root = ElementTree.fromstring(feed(kind="rss"))
    channel = root.find("channel")
    assert channel is not None
    assert channel.findtext("lastBuildDate") == "Fri, 14 Mar 2025 07:05:05 +0000"
    assert channel.findtext("link") == "https://digest.example.org/"
    guids = channel.findall("item/guid")
    assert [g.text for g in guids] == [e.guid for e in sample_entries()]
    assert {g.get("isPermaLink") for g in guids} == {"false"}
    assert channel.find("item/pubDate") is not None


def test_atom_ids_and_updated() -> None:
    root = ElementTree.fromstring(feed(kind="atom"))
    assert root.findtext(f"{ATOM}updated") == "2025-03-14T07:05:05+00:00"
    assert root.findtext(f"{ATOM}id") == "urn:paperdigest:feed:efficient-inference"
    ids = [e.findtext(f"{ATOM}id") for e in root.findall(f"{ATOM}entry")]
    assert ids == ["urn:paperdigest:" + e.guid for e in sample_entries()]
    assert atom_id("https://example.org/p/1") == "https://example.org/p/1"
    assert atom_id("tag:example.org,2025:x") == "tag:example.org,2025:x"
    assert atom_id("profile/a b<c>") == "urn:paperdigest:profile/a%20b%3Cc%3E"


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feed_is_deterministic(kind: str) -> None:
    assert feed(kind=kind) == feed(kind=kind)
    assert feed(kind=kind) != feed(kind=kind, updated=UPDATED + timedelta(seconds=1))


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_empty_feed_and_entry_without_link_or_score(kind: str) -> None:
    assert not feedparser.parse(feed([], kind=kind)).bozo
    bare = FeedEntry(guid="all/title:untitled-paper", paper=Paper(title="Bare paper", abstract="Just text."),
                     added=CREATED)
    d = feedparser.parse(feed([bare], kind=kind))
    assert not d.bozo and len(d.entries) == 1
    assert not d.entries[0].get("link", "").startswith("http")  # feedparser may echo the id
    body = d.entries[0].get("content", [{}])[0].get("value") if kind == "atom" else d.entries[0].description
    assert "Just text." in body and "Why you see this" not in body


def test_duplicate_guids_are_skipped() -> None:
    entries = sample_entries()
    d = feedparser.parse(feed([*entries, replace(entries[0], paper=ITEMS[2].paper)]))
    assert [e.id for e in d.entries] == [e.guid for e in entries]


@pytest.mark.parametrize("change, message", [
    (dict(updated=datetime(2025, 3, 14, 7, 0)), "timezone-aware"),
    (dict(link="ftp://digest.example.org/"), "http(s)"),
    (dict(self_url="javascript:alert(1)"), "http(s)"),
    (dict(kind="json"), "kind"),
])
def test_caller_errors(change: dict, message: str) -> None:
    kind = change.pop("kind", "rss")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        feed(kind=kind, **change)


def test_naive_entry_date_is_refused() -> None:
    entry = replace(sample_entries()[0], added=datetime(2025, 3, 14, 7, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        feed([entry])
