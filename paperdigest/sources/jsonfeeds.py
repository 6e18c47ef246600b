"""JSON listings: JSON Feed 1.x and the Hugging Face daily-papers API (or anything shaped like
either: items are found under the first key that holds a list of paper-like objects)."""

from __future__ import annotations

import json
from typing import Any

from paperdigest.errors import ParseError
from paperdigest.models import Listing, Paper, normalize_arxiv_id
from paperdigest.sources.common import HF_PAPER_URL, SENTINEL_RE, finish_listing, int_or_none, parse_iso, split_ai_summary, strip_html, text_or_none
from paperdigest.sources.pagetext import add_paper, clip, no_abstract_yet

def load_json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ParseError(f"{name}: invalid JSON: nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, and int conversion limits
        raise ParseError(f"{name}: invalid JSON: {e}") from None


def json_kind(obj: Any) -> str | None:
    """"jsonfeed", "hf-api" or None (an unknown shape)."""
    if isinstance(obj, dict):
        version = obj.get("version")
        if isinstance(obj.get("items"), list) or (
            isinstance(version, str) and "jsonfeed" in version
        ):
            return "jsonfeed"
        return "hf-api" if find_items(obj) is not None else None
    if isinstance(obj, list):
        return "hf-api"
    return None


def _looks_item(x: Any) -> bool:
    return isinstance(x, dict) and (
        isinstance(x.get("paper"), dict)
        or (isinstance(x.get("title"), str) and isinstance(x.get("summary"), str))
    )


def find_items(obj: Any, depth: int = 0) -> list[Any] | None:
    """The list of daily-papers items somewhere in ``obj`` (the key name varies)."""
    if depth > 6:
        return None
    if isinstance(obj, list):
        if any(_looks_item(x) for x in obj[:20]):
            return obj
        children: list[Any] = obj[:20]
    elif isinstance(obj, dict):
        # Look under keys naming papers first ("dailyPapers", "papers").
        keys = sorted(obj, key=lambda k: "paper" not in str(k).lower())
        children = [obj[k] for k in keys]
    else:
        return None
    for child in children:
        if isinstance(child, (list, dict)):
            found = find_items(child, depth + 1)
            if found is not None:
                return found
    return None


def parse_jsonfeed(obj: Any, name: str) -> Listing:
    """JSON Feed 1.x. A scraper's sentinel item ("Something is wrong…", id "1") marks the
    capture broken: it is never a paper, and a capture holding nothing else gives an empty
    listing with ``broken`` set rather than an error, so the caller can record the outage."""
    if not isinstance(obj, dict) or not isinstance(obj.get("items"), list):
        raise ParseError(f"{name}: JSON is not a JSON Feed (no 'items' list)")
    listing = Listing(papers=[], format="jsonfeed")
    seen: dict[str, int] = {}
    for k, item in enumerate(obj["items"], 1):
        if not isinstance(item, dict):
            listing.problems.append(f"item {k} is not an object: skipped")
            continue
        title = text_or_none(item.get("title"))
        raw_id = item.get("id")
        item_id = str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else None
        if title and SENTINEL_RE.match(title) and (item_id == "1" or not item.get("url")):
            listing.broken = True
            listing.warnings.append(f"broken capture: sentinel item {k} '{clip(title)}'")
            continue
        if title is None:
            listing.problems.append(f"item {k} has no title: skipped")
            continue
        raw_text = item.get("content_text")
        # Kept raw: the whitespace around a drift marker helps tell it from prose.
        content = raw_text.strip() if isinstance(raw_text, str) else None
        if not content:
            html = item.get("content_html") or item.get("summary")
            content = strip_html(html) if isinstance(html, str) else None
        abstract, ai_summary = split_ai_summary(content) if content else ("", None)
        if not abstract:
            listing.warnings.append(no_abstract_yet(f"item {k}", title))
        url = text_or_none(item.get("url")) or text_or_none(item.get("external_url"))
        if url is None and item_id and item_id.startswith(("http://", "https://")):
            url = item_id
        arxiv_id = normalize_arxiv_id(item_id) or normalize_arxiv_id(url)
        date_raw = item.get("date_published") or item.get("date_modified")
        published = parse_iso(date_raw)
        if date_raw is not None and published is None:
            listing.problems.append(f"item {k} '{clip(title)}': unreadable date {str(date_raw)[:40]!r}")
        paper = Paper(
            title=title,
            abstract=abstract,
            arxiv_id=arxiv_id,
            url=url,
            authors=_jsonfeed_authors(item),
            published=published,
            ai_summary=ai_summary,
        )
        add_paper(listing, seen, paper, f"item {k}")
    return finish_listing(listing, name, "JSON Feed")


def _jsonfeed_authors(item: dict[str, Any]) -> tuple[str, ...]:
    people = item.get("authors")
    if not isinstance(people, list):
        people = [item.get("author")]
    names = (text_or_none(p.get("name")) for p in people if isinstance(p, dict))
    return tuple(n for n in names if n)


def parse_hf_api(obj: Any, name: str, fmt: str = "hf-api") -> Listing:
    """The daily-papers API: ``[{paper: {id, title, summary, authors, …}, title, …}]``."""
    items = obj if isinstance(obj, list) else find_items(obj)
    if items is None:
        if isinstance(obj, dict) and text_or_none(obj.get("error")):
            raise ParseError(f"{name}: the API answered with an error: {clip(str(obj['error']), 120)}")
        raise ParseError(
            f"{name}: JSON of an unknown shape (neither a JSON Feed nor a daily-papers list)"
        )
    listing = Listing(papers=[], format=fmt)
    seen: dict[str, int] = {}
    for k, item in enumerate(items, 1):
        if not isinstance(item, dict):
            listing.problems.append(f"item {k} is not an object: skipped")
            continue
        paper_obj = item.get("paper")
        p: dict[str, Any] = paper_obj if isinstance(paper_obj, dict) else item
        title = text_or_none(p.get("title")) or text_or_none(item.get("title"))
        if title is None:
            listing.problems.append(f"item {k} has no title: skipped")
            continue
        abstract = text_or_none(p.get("summary")) or text_or_none(item.get("summary")) or ""
        if not abstract:
            listing.warnings.append(no_abstract_yet(f"item {k}", title))
        raw_id = p.get("id")
        pid = text_or_none(raw_id) if isinstance(raw_id, str) else None
        authors = p.get("authors")
        names = (
            (text_or_none(a.get("name")) for a in authors if isinstance(a, dict))
            if isinstance(authors, list)
            else ()
        )
        paper = Paper(
            title=title,
            abstract=abstract,
            arxiv_id=normalize_arxiv_id(pid),
            url=HF_PAPER_URL.format(pid) if pid and " " not in pid else None,
            authors=tuple(n for n in names if n),
            published=parse_iso(p.get("publishedAt")) or parse_iso(item.get("publishedAt")),
            upvotes=int_or_none(p.get("upvotes")),
            ai_summary=text_or_none(p.get("ai_summary")),
        )
        add_paper(listing, seen, paper, f"item {k}")
    what = "daily-papers list" if fmt == "hf-api" else "page's paper list"
    return finish_listing(listing, name, what)
