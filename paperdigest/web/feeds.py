"""Feeds served: ``/feeds/<profile>.xml`` (RSS 2.0) and ``.atom`` for the config's profiles, and
``/feeds/private/<key>.xml|.atom`` for a web subscriber's personal profile (the key is random,
unguessable, and dies with the subscription).

A feed is rendered from the store, the same window as the files a run writes, and kept in
memory until the store's stamp for it changes (newest item, item count), so a poll costs one
small query. Every answer carries ``ETag`` (a hash of the bytes) and ``Last-Modified`` (the
newest entry); ``If-None-Match`` (or, without it, ``If-Modified-Since``) that still holds gets
``304 Not Modified`` and no body.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperdigest.delivery.feeds import render_feed
from paperdigest.pipeline.digests import feed_texts
from paperdigest.pipeline.subscribers import PERSONAL_TITLE
from paperdigest.web.app import Web, web_of
from paperdigest.web.pages import message_page

router = APIRouter()
SUFFIXES = {"xml": ("rss", "application/rss+xml; charset=utf-8"),
            "atom": ("atom", "application/atom+xml; charset=utf-8")}
_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class ServedFeed:
    data: bytes
    etag: str
    last_modified: datetime
    stamp: tuple[int, int, datetime | None]


def served_feed(web: Web, profile: str, kind: str, *, title: str, description: str, self_url: str,
                link: str) -> ServedFeed:
    now = web.clock()
    since = now - timedelta(days=web.config.feed.max_days)
    stamp = web.store.feed_stamp(profile, since)
    key = ("feed", profile, kind)
    cached: ServedFeed | None = web.cache.get(key)
    if cached is not None and cached.stamp == stamp:
        return cached
    entries = web.store.feed_entries(profile, max_items=web.config.feed.max_items, since=since)
    updated = max((e.last_change for e in entries), default=now).replace(microsecond=0)
    data = render_feed(entries, kind="rss" if kind == "rss" else "atom", feed_id=f"urn:paperdigest:feed:{profile}",
                       title=title, link=link, self_url=self_url, description=description, updated=updated,
                       templates=web.config.templates)
    feed = ServedFeed(data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"', updated, stamp)
    web.cache[key] = feed
    return feed


def answer(request: Request, feed: ServedFeed, content_type: str, cache: str) -> Response:
    headers = {"ETag": feed.etag, "Last-Modified": format_datetime(feed.last_modified, usegmt=True),
               "Cache-Control": cache}
    if not_modified(request, feed):
        return Response(status_code=304, headers=headers)
    return Response(feed.data, media_type=content_type, headers=headers)


def not_modified(request: Request, feed: ServedFeed) -> bool:
    """RFC 9110: If-None-Match decides when present (weak comparison); else If-Modified-Since."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == feed.etag for t in tags)
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is not None:
            return feed.last_modified <= since
    return False


def _split(filename: str) -> tuple[str, str, str] | None:
    name, _, suffix = filename.rpartition(".")
    if suffix not in SUFFIXES or not name:
        return None
    kind, content_type = SUFFIXES[suffix]
    return name, kind, content_type


@router.get("/feeds/{filename}")
def profile_feed(filename: str, request: Request) -> Response:
    web = web_of(request)
    parts = _split(filename)
    if parts is None or parts[0] not in web.profile_names():
        return message_page(web, "No such feed", ["There is no feed at this address."], status=404)
    name, kind, content_type = parts
    title, description = feed_texts(web.config.profile(name))
    feed = served_feed(web, name, kind, title=title, description=description,
                       self_url=web.links.feed(name, kind), link=web.links.digests(name))
    return answer(request, feed, content_type, "public, max-age=300")


@router.get("/feeds/private/{filename}")
def private_feed(filename: str, request: Request) -> Response:
    web = web_of(request)
    parts = _split(filename)
    sub = web.store.subscriber_by_feed_key(parts[0]) if parts and _KEY_RE.fullmatch(parts[0]) else None
    if parts is None or sub is None or sub.status != "active" or not sub.settings.personal:
        return message_page(web, "No such feed", ["There is no feed at this address (a private feed ends with its "
                                                  "subscription)."], status=404)
    _, kind, content_type = parts
    feed = served_feed(web, sub.personal_profile, kind, title=f"paperdigest: {PERSONAL_TITLE}",
                       description="Papers matching your personal profile",
                       self_url=web.links.private_feed(sub.feed_key, kind), link=web.links.url("subscribe"))
    return answer(request, feed, content_type, "private, max-age=300")
