"""Conversions between the core's objects and the store's rows, and the identities the store gives."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from paperdigest.models import Blend, Match, Paper, RankedItem, Sightings

# What no SQL text column can hold: NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8).
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")


def paper_uid(paper: Paper, title_key: str | None = None) -> str:
    """The stable identity given to a paper on first sight (feed GUIDs derive from it)."""
    if paper.arxiv_id:
        return f"arxiv:{paper.arxiv_id}"
    key = paper.title_key if title_key is None else title_key
    return "title:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def content_hash(data: bytes) -> str:
    """Hash of a capture with encoding noise removed: a CRLF or BOM copy is the same capture."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(data).hexdigest()


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive, PostgreSQL in the session's time zone; every stored
    datetime is UTC, and is handed out in UTC."""
    if value is None:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def storable(p: Paper) -> Paper:
    """The paper without what SQL text cannot hold. A JSON feed can spell NUL or a lone
    surrogate; every output drops them anyway (delivery.textsafe), so the store drops them too."""
    text = "".join((p.title, p.abstract, p.url or "", p.ai_summary or "", *p.authors))
    if "\x00" not in text:
        try:
            text.encode("utf-8")  # fails only on a surrogate; much faster than a regex search
            return p
        except UnicodeEncodeError:
            pass

    def clean(value: str) -> str:
        return _UNSTORABLE_RE.sub("", value)

    return replace(p, title=clean(p.title), abstract=clean(p.abstract), url=clean(p.url) if p.url else p.url,
                   ai_summary=clean(p.ai_summary) if p.ai_summary else p.ai_summary,
                   authors=tuple(clean(a) for a in p.authors))


def utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime passed to the store")
    return value.astimezone(timezone.utc)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def paper_from_row(row: Any) -> Paper:
    return Paper(title=row.title, abstract=row.abstract, arxiv_id=row.arxiv_id, url=row.url,
                 authors=tuple(json.loads(row.authors)) if row.authors else (),
                 published=aware(row.published), upvotes=row.upvotes, ai_summary=row.ai_summary)


def matches_from_json(text: str) -> tuple[Match, ...]:
    return tuple(Match(term, where, float(c)) for term, where, c in json.loads(text or "[]"))


def momentum_to_json(item: RankedItem) -> str | None:
    """What a digest item showed of its paper's sightings and blend, kept with the item so that
    a digest re-rendered later says what it said then."""
    s, b = item.sightings, item.blend
    if s is None and b is None:
        return None
    data: dict[str, Any] = {}
    if s is not None:
        data["sightings"] = {"first_seen": s.first_seen.isoformat(), "last_seen": s.last_seen.isoformat(),
                             "captures": s.captures, "days": s.days, "upvotes": s.upvotes, "gain": s.gain,
                             "since": s.since}
    if b is not None:
        data["blend"] = {"weight": b.weight, "momentum": b.momentum, "relevance": b.relevance, "value": b.value}
    return json.dumps(data, separators=(",", ":"))


def momentum_from_json(text: str | None) -> tuple[Sightings | None, Blend | None]:
    data = json.loads(text) if text else {}
    s, b = data.get("sightings"), data.get("blend")
    seen = Sightings(first_seen=datetime.fromisoformat(s["first_seen"]),
                     last_seen=datetime.fromisoformat(s["last_seen"]), captures=s["captures"], days=s["days"], upvotes=s["upvotes"], gain=s["gain"],
                     since=s["since"]) if s else None
    blend = Blend(b["weight"], b["momentum"], b["relevance"], b["value"]) if b else None
    return seen, blend
