"""The listing page as HTML: its papers are JSON in the ``data-props`` of the DailyPapers
element; without them, the page's visible text goes to the page-text parser."""

from __future__ import annotations

import json
import re
from datetime import datetime
from html.parser import HTMLParser

from paperdigest.errors import ParseError
from paperdigest.models import Listing
from paperdigest.sources.common import parse_iso
from paperdigest.sources.jsonfeeds import find_items, parse_hf_api
from paperdigest.sources.pagetext import parse_text

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head"})
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer form h1 h2 h3"
    " h4 h5 h6 header hr li main nav ol p pre section table td th tr ul title".split()
)
_HTML_START_RE = re.compile(r"\s*<(?:!doctype\s+html|html|head|body|!--|meta|div|main)\b", re.I)


class _PageParser(HTMLParser):
    """Collects ``data-props`` of the DailyPapers element and the page's visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.props: list[str] = []
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if "data-props" in values and "dailypapers" in values.get("data-target", "").lower():
            self.props.append(values["data-props"])
        if tag in _SKIP_TAGS:
            self.hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if "data-props" in values and "dailypapers" in values.get("data-target", "").lower():
            self.props.append(values["data-props"])
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(" ".join(data.split()) if data.strip() else " ")


def looks_html(text: str) -> bool:
    return bool(_HTML_START_RE.match(text[:1000]))


def parse_html(text: str, name: str, captured: datetime | None = None) -> Listing:
    """The listing page: papers from the DailyPapers ``data-props`` JSON; without that element,
    the visible text if it reads as the page-text layout (with the page's chrome, or at least
    three papers, so that an error page's paragraph never passes for a paper)."""
    if not looks_html(text):
        raise ParseError(f"{name}: not an HTML page")
    parser = _PageParser()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError) as e:
        raise ParseError(f"{name}: unreadable HTML: {e}") from None
    errors: list[str] = []
    for props in parser.props:
        try:
            obj = json.loads(props)
        except (ValueError, RecursionError):
            errors.append("invalid JSON in data-props")
            continue
        items = find_items(obj)
        if items is None:
            errors.append("no paper list in data-props")
            continue
        try:
            listing = parse_hf_api(items, name, fmt="html")
        except ParseError as e:
            errors.append(str(e).split(": ", 1)[-1])
            continue
        if isinstance(obj, dict):
            d = parse_iso(obj.get("date"))
            listing.date = d.date() if d else None
        return listing
    if errors:
        raise ParseError(f"{name}: the page's paper list is unusable: {errors[0]}")
    visible = "".join(parser.parts)
    try:
        from_text = parse_text(visible, name=name, captured=captured)
    except ParseError:
        raise ParseError(f"{name}: HTML page without a paper list (an error page?)") from None
    chrome = "get trending papers" in visible.lower() or "research community" in visible.lower()
    if len(from_text.papers) < 3 and not chrome:
        raise ParseError(f"{name}: HTML page without a paper list (an error page?)")
    from_text.format = "html"
    from_text.warnings.append("no DailyPapers element: papers read from the page's visible text")
    return from_text
