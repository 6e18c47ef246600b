"""RSS 2.0 and Atom feeds of digest entries, via feedgen.

Output is deterministic: the same entries and ``updated`` give the same bytes (feedgen would
otherwise stamp the build time), entries keep the order given (feedgen prepends by default),
and every text passes through :mod:`paperdigest.delivery.textsafe` first, so the XML stays well-formed
whatever a title holds (XML 1.0 forbids most control characters; lxml escapes the rest).

Ids: RSS ``<guid isPermaLink="false">`` is the entry's guid as it is. An Atom id must be an
IRI, so a guid that is not already an http(s)/urn/tag URI becomes ``urn:paperdigest:<guid>``
(percent-encoded). Either way it never changes for an entry.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Literal, Sequence
from urllib.parse import quote

from feedgen.feed import FeedGenerator

from paperdigest.models import FeedEntry
from paperdigest.delivery.render import NO_ABSTRACT, sanitize_html
from paperdigest.delivery.templating import render_template
from paperdigest.delivery.textsafe import (SUMMARY_LIMIT, TITLE_LIMIT, arxiv_url, authors_line, one_line, paper_url,
                       safe_url)

FEED_ABSTRACT_LIMIT = 2000
MAX_FEED_AUTHORS = 10
_URI_RE = re.compile(r"(?:https?://|urn:|tag:)[^\s<>\"]+", re.IGNORECASE)


def atom_id(guid: str) -> str:
    """The Atom id for a guid: the guid itself when it is already a URI, else a urn: form."""
    text = one_line(guid, 500)
    if _URI_RE.fullmatch(text):
        return text
    return "urn:paperdigest:" + quote(text, safe="/:-._~@!$&'()*+,;=")


def render_feed(entries: Sequence[FeedEntry], *, kind: Literal["rss", "atom"], feed_id: str, title: str,
                link: str, self_url: str, description: str, updated: datetime,
                templates: Path | None = None) -> bytes:
    """The feed as UTF-8 XML bytes, one item per entry in the order given.

    Raises ValueError for an unknown ``kind``, a link that is not http(s), a naive
    datetime, or an entry without a guid (all are caller bugs, not bad paper data).
    Entries repeating an earlier guid are skipped: ids must be unique in a feed.
    """
    if kind not in ("rss", "atom"):
        raise ValueError(f'feed "{feed_id}": kind must be "rss" or "atom", not "{kind}"')
    _check_aware(updated, f'feed "{feed_id}": updated')
    home, self_link = safe_url(link), safe_url(self_url)
    if not home or not self_link:
        raise ValueError(f'feed "{feed_id}": link and self_url must be http(s) URLs')
    fg = FeedGenerator()
    fg.id(atom_id(feed_id))
    fg.title(one_line(title, TITLE_LIMIT) or "paperdigest")
    fg.link(href=self_link, rel="self",
            type="application/rss+xml" if kind == "rss" else "application/atom+xml")
    fg.link(href=home, rel="alternate")  # last: feedgen takes the RSS <link> from the last one
    desc = one_line(description, 500) or "paperdigest"
    if kind == "rss":
        fg.description(desc)
    else:
        fg.subtitle(desc)
    fg.language("en")
    fg.generator("paperdigest")
    fg.updated(updated)  # also lastBuildDate; feedgen would use the clock otherwise

    seen: set[str] = set()
    for entry in entries:
        guid = one_line(entry.guid, 500)
        if not guid:
            raise ValueError(f'feed "{feed_id}": an entry has an empty guid')
        if guid in seen:
            continue
        seen.add(guid)
        _check_aware(entry.added, f'feed "{feed_id}": entry "{guid}" added')
        _add_entry(fg, entry, guid, kind, templates)

    xml: bytes = fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)
    return xml


def _add_entry(fg: FeedGenerator, entry: FeedEntry, guid: str, kind: str, templates: Path | None) -> None:
    paper = entry.paper
    fe = fg.add_entry(order="append")
    fe.title(one_line(paper.title, TITLE_LIMIT) or "(untitled)")
    if kind == "rss":
        fe.guid(guid, permalink=False)
    else:
        fe.id(atom_id(guid))
    url = paper_url(paper)
    if url:
        fe.link(href=url, rel="alternate")
    fe.published(entry.added)
    fe.updated(entry.last_change)  # a paper filled in later: same id, new content and date
    html = entry_html(entry, templates)
    if kind == "rss":
        fe.description(html)
    else:
        fe.content(html, type="html")
        names = [n for n in (one_line(a, 80) for a in paper.authors[:MAX_FEED_AUTHORS]) if n]
        if names:
            fe.author([{"name": n} for n in names])


def entry_html(entry: FeedEntry, templates: Path | None = None) -> str:
    """The entry body as sanitized HTML: authors, why it is there, AI summary, abstract."""
    p = entry.paper
    why = "; ".join(m.describe() for m in entry.matches)
    html = render_template("partials/feed_entry.html.j2", {
        "authors": authors_line(p.authors, MAX_FEED_AUTHORS),
        "score": f"{entry.score:.2f}" if entry.score is not None else "",
        "why": one_line(why),
        "summary": one_line(p.ai_summary, SUMMARY_LIMIT),
        "abstract": one_line(p.abstract, FEED_ABSTRACT_LIMIT),
        "arxiv_id": one_line(p.arxiv_id, 40),
        "arxiv_url": arxiv_url(p),
        "no_abstract": NO_ABSTRACT,
        "momentum": entry.sightings.describe() if entry.sightings is not None else "",
    }, templates)
    return sanitize_html(html).strip()


def _check_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, not {value!r}")
