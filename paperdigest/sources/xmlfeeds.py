"""RSS 2.0/1.0 and Atom listings, read through defusedxml (entity expansion and external
entities are refused)."""

from __future__ import annotations

import defusedxml.ElementTree as SafeET
import re
from defusedxml import DefusedXmlException
from typing import Any
from xml.etree.ElementTree import Element

from paperdigest.errors import ParseError
from paperdigest.models import Listing, Paper, normalize_arxiv_id
from paperdigest.sources.common import HTML_TAG_RE, clean_abstract, finish_listing, parse_iso, parse_rfc822, split_ai_summary, strip_html, text_or_none
from paperdigest.sources.pagetext import add_paper, no_abstract_yet

def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _children(el: Element, local: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == local]


def _text(el: Element | None, raw: bool = False) -> str | None:
    """An element's text; HTML stripped when declared (Atom ``type="html"``) or when common
    HTML tags show, so that a plain abstract's special tokens ("<RET>") survive. ``raw``
    keeps plain text's whitespace: it sets off the drift markers of an abstract."""
    if el is None:
        return None
    text = "".join(el.itertext())
    if (el.get("type") or "").lower() in ("html", "text/html", "xhtml") or (
        "<" in text and HTML_TAG_RE.search(text)
    ):
        return text_or_none(strip_html(text))
    return (text.strip() or None) if raw else text_or_none(text)


def _first_text(el: Element, *locals_: str, raw: bool = False) -> str | None:
    for local in locals_:
        for child in _children(el, local):
            value = _text(child, raw)
            if value:
                return value
    return None


def parse_xml_feed(data: bytes, name: str, expect: str | None = None) -> Listing:
    """RSS 2.0, RSS 1.0 (RDF) or Atom; ``expect`` ("rss"/"atom") refuses the other."""
    try:
        root = SafeET.fromstring(
            data, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException:
        raise ParseError(
            f"{name}: XML with entity declarations or external references refused"
        ) from None
    except Exception as e:  # noqa: BLE001 - whatever expat raises, the document is unusable
        raise ParseError(f"{name}: invalid XML: {e}") from None
    kind = {"rss": "rss", "rdf": "rss", "feed": "atom"}.get(_local(root.tag))
    if kind is None:
        raise ParseError(f"{name}: XML root <{_local(root.tag)}> is neither RSS nor Atom")
    if expect and kind != expect:
        raise ParseError(f"{name}: {'an Atom' if kind == 'atom' else 'an RSS'} feed, not {expect}")
    listing = Listing(papers=[], format=kind)
    seen: dict[str, int] = {}
    item_tag = "entry" if kind == "atom" else "item"
    items = [el for el in root.iter() if _local(el.tag) == item_tag]
    for k, item in enumerate(items, 1):
        paper = _atom_paper(item) if kind == "atom" else _rss_paper(item)
        if isinstance(paper, str):
            listing.problems.append(f"item {k}{paper}: skipped")
            continue
        if not paper.abstract:
            listing.warnings.append(no_abstract_yet(f"item {k}", paper.title))
        add_paper(listing, seen, paper, f"item {k}")
    return finish_listing(listing, name, "Atom feed" if kind == "atom" else "RSS feed")


def _split_people(values: list[str]) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        for part in re.split(r",\s*|\s+and\s+", value):
            part = part.strip()
            if part and part not in names:
                names.append(part)
    return tuple(names)


def _title_and_abstract(el: Element, *abstract_tags: str) -> tuple[str, str, str | None] | str:
    """An item's (title, abstract, AI summary) from its title and first abstract-like child
    (the abstract "" when there is none yet), or why it has no title (the start of a one-line
    error, as the item parsers return)."""
    title = _first_text(el, "title")
    if title is None:
        return " has no title"
    text = _first_text(el, *abstract_tags, raw=True)
    if not text:
        return title, "", None  # an abstract not yet available: the paper is kept by its title
    abstract, ai_summary = split_ai_summary(clean_abstract(text))
    return title, abstract, ai_summary


def _rss_paper(item: Element) -> Paper | str:
    got = _title_and_abstract(item, "description", "encoded", "summary")
    if isinstance(got, str):
        return got
    title, abstract, ai_summary = got
    link = _first_text(item, "link")
    guid = _first_text(item, "guid")
    if link is None:
        about = item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
        link = text_or_none(about) or (guid if guid and guid.startswith(("http://", "https://")) else None)
    creators = [t for c in _children(item, "creator") + _children(item, "author") if (t := _text(c))]
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=normalize_arxiv_id(guid) or normalize_arxiv_id(link),
        url=link,
        authors=_split_people(creators),
        published=parse_rfc822(_first_text(item, "pubdate")) or parse_iso(_first_text(item, "date")),
        ai_summary=ai_summary,
    )


def _atom_paper(entry: Element) -> Paper | str:
    got = _title_and_abstract(entry, "summary", "content")
    if isinstance(got, str):
        return got
    title, abstract, ai_summary = got
    link = None
    for el in _children(entry, "link"):
        if (el.get("rel") or "alternate") == "alternate" and text_or_none(el.get("href")):
            link = text_or_none(el.get("href"))
            break
    entry_id = _first_text(entry, "id")
    if link is None and entry_id and entry_id.startswith(("http://", "https://")):
        link = entry_id
    authors = [n for a in _children(entry, "author") if (n := _first_text(a, "name"))]
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=normalize_arxiv_id(entry_id) or normalize_arxiv_id(link),
        url=link,
        authors=tuple(authors),
        published=parse_iso(_first_text(entry, "published")) or parse_iso(_first_text(entry, "updated")),
        ai_summary=ai_summary,
    )
