"""The one entry point for reading a listing: bytes in, :class:`Listing` out.

``parse_listing`` either returns a listing with at least one paper (or a capture flagged
``broken``) or raises :class:`ParseError` with one line naming the input; nothing else
escapes. With ``format="auto"`` the declared content type is tried first, then what the
content looks like, so a JSON body served as ``text/html`` still parses.
"""

from __future__ import annotations

import codecs
import re
from datetime import datetime

from paperdigest.config import SOURCE_FORMATS
from paperdigest.errors import ParseError
from paperdigest.models import Listing
from paperdigest.sources.htmlpage import looks_html, parse_html
from paperdigest.sources.jsonfeeds import json_kind, load_json, parse_hf_api, parse_jsonfeed
from paperdigest.sources.xmlfeeds import parse_xml_feed
from paperdigest.sources.pagetext import parse_text

_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
_ROOT_RE = re.compile(r"<([A-Za-z_][\w:.-]*)")
# JSON starts with "{" or "[" and then a value; "[Re] A Title" is page text.
_JSON_START_RE = re.compile(r'\{\s*(?:["}]|$)|\[\s*(?:["{\[\]\d-]|true|false|null|$)')

# Content types and the parser each one asks for; "json" and "xml" let the shape decide.
_CONTENT_TYPES = {
    "application/json": "json",
    "text/json": "json",
    "application/feed+json": "json",
    "application/rss+xml": "rss",
    "application/rdf+xml": "rss",
    "application/atom+xml": "atom",
    "application/xml": "xml",
    "text/xml": "xml",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
}


def decode_text(data: bytes) -> str:
    """Text with LF line ends and no BOM. UTF-8 (a multi-byte character cut at the very end
    is dropped; a few bad bytes in otherwise UTF-8 text become U+FFFD), else cp1252, else
    latin-1. Never raises."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not data.startswith(
        codecs.BOM_UTF8
    ):
        text = data.decode("utf-16", errors="replace")
    else:
        if data.startswith(codecs.BOM_UTF8):
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            text = _decode_fallback(data, e)
    text = text.lstrip("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _decode_fallback(data: bytes, err: UnicodeDecodeError) -> str:
    if err.reason == "unexpected end of data" and err.end == len(data):
        try:
            return data[: err.start].decode("utf-8")  # cut inside the last character
        except UnicodeDecodeError:
            pass
    replaced = data.decode("utf-8", errors="replace")
    bad = replaced.count("\ufffd") - data.count(b"\xef\xbf\xbd")
    good = len(_NON_ASCII_RE.findall(replaced)) - replaced.count("\ufffd")
    if good >= 4 * bad:
        return replaced  # UTF-8 with a few stray bytes
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _declared(content_type: str | None) -> str | None:
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in _CONTENT_TYPES:
        return _CONTENT_TYPES[mime]
    if mime.endswith("+json"):
        return "json"
    if mime.endswith("+xml"):
        return "xml"
    return None


def sniff(text: str) -> str:
    """What the content looks like: "json", "rss", "atom", "xml", "html" or "text"."""
    head = text.lstrip()[:4096]
    if _JSON_START_RE.match(head):
        return "json"
    if head[:1] != "<":
        return "text"
    if looks_html(head) and not re.match(r"\s*<\?xml", head):
        return "html"
    # Skip the XML declaration, comments and doctype to the root element.
    body = re.sub(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>[]*(\[.*?\])?\s*>", "", head, flags=re.S | re.I)
    m = _ROOT_RE.search(body)
    root = m.group(1).lower().rsplit(":", 1)[-1] if m else ""
    if root in ("rss", "rdf"):
        return "rss"
    if root == "feed":
        return "atom"
    if root == "html":
        return "html"
    return "xml"


def _run(
    kind: str, data: bytes, text: str, name: str, explicit: bool, captured: datetime | None
) -> Listing:
    if kind == "text":
        return parse_text(text, name=name, captured=captured)
    if kind == "html":
        return parse_html(text, name, captured)
    if kind in ("rss", "atom", "xml"):
        return parse_xml_feed(data, name, expect=kind if kind != "xml" and explicit else None)
    obj = load_json(text, name)
    shape = json_kind(obj)
    if kind == "jsonfeed" or (kind == "json" and shape == "jsonfeed"):
        return parse_jsonfeed(obj, name)
    return parse_hf_api(obj, name)  # refuses an unknown shape, quoting an API error


def _parse(
    data: bytes, name: str, format: str, content_type: str | None, captured: datetime | None
) -> Listing:
    if format not in SOURCE_FORMATS:
        raise ParseError(f"{name}: unknown format {format!r} (one of {', '.join(SOURCE_FORMATS)})")
    if not data.strip():
        raise ParseError(f"{name}: empty input")
    text = decode_text(data)
    if format != "auto":
        return _run(format, data, text, name, True, captured)
    declared = _declared(content_type)
    sniffed = sniff(text)
    order = [k for k in (declared, sniffed) if k]
    if declared in ("rss", "atom") and sniffed in ("rss", "atom", "xml"):
        order = ["xml"]  # one XML parse decides between RSS and Atom
    first_error: ParseError | None = None
    for kind in dict.fromkeys(order):
        try:
            listing = _run(kind, data, text, name, False, captured)
        except ParseError as e:
            if kind == sniffed or first_error is None:
                first_error = e  # what the content looks like explains best
            continue
        if declared and kind != declared and kind not in ("xml",):
            listing.warnings.append(
                f"declared content type {content_type!r} did not parse; read as {listing.format}"
            )
        return listing
    assert first_error is not None
    raise first_error


def parse_listing(
    data: bytes,
    *,
    name: str,
    format: str = "auto",
    content_type: str | None = None,
    captured: datetime | None = None,
) -> Listing:
    """Parse one input (``name`` is its path or URL, for messages).

    ``format`` is one of ``SOURCE_FORMATS``; "auto" tries the declared ``content_type``,
    then what the content looks like (a warning notes a declared type that did not parse).
    ``captured`` (tz-aware) dates a year-less page date like "Mar 11": the year putting it
    nearest the capture and at most three days after it; without ``captured`` no year is
    guessed and ``Listing.date`` stays None. A broken capture (the scraper's sentinel item)
    is returned, possibly empty, with ``broken`` set instead of raising, so the caller can
    record the outage. Any other input without a paper raises :class:`ParseError`.
    """
    try:
        listing = _parse(data, name, format, content_type, captured)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(f"{name}: input nested too deeply") from None
    except Exception as e:  # noqa: BLE001 - last line of defence; the property test targets _parse
        raise ParseError(f"{name}: unexpected parser failure ({type(e).__name__}: {e})") from None
    if not _is_utf8(data):
        # The papers are kept, but the input is not what it should be: say so.
        listing.problems.insert(0, "not UTF-8 text: read as a legacy 8-bit encoding (cp1252/Latin-1)")
    return listing


def _is_utf8(data: bytes) -> bool:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not data.startswith(codecs.BOM_UTF8):
        return True  # UTF-16 with a BOM says what it is
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        # A character cut at the very end (a truncated capture) is reported as a cut, not here.
        return e.reason == "unexpected end of data" and e.end == len(data)
    return True
