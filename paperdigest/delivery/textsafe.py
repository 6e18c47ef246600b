"""Make untrusted paper text safe to show: every output goes through these helpers.

Titles, abstracts, author names and summaries come from scraped pages and feeds, so they may
hold anything: markup, control characters, bidi overrides, 100 KB of text. The rule here is
*clean, then trim, then escape for the target format*. Cleaning removes what no output may
carry (C0/C1 controls, lone surrogates, XML-illegal code points, bidi embeddings/overrides/
isolates that can flip the visual order of the text around them); escaping is per format
(:func:`md_escape` for Markdown, Jinja autoescape + nh3 for HTML, lxml for XML).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

from paperdigest.models import Paper, normalize_arxiv_id

# Limits on what one field may show; a digest is a summary, not an archive.
TITLE_LIMIT = 300
ABSTRACT_LIMIT = 600
SUMMARY_LIMIT = 400
AUTHOR_LIMIT = 80
MAX_AUTHORS = 6
LINE_LIMIT = 300  # warnings, reasons and other one-line strings

# Controls except TAB/LF/CR (whitespace is handled separately), DEL and C1 controls,
# bidi embeddings/overrides (U+202A-U+202E) and isolates (U+2066-U+2069), the BOM,
# lone surrogates and the two XML-illegal non-characters.
_DROP_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]"
)
# Whitespace for str.split() includes \x1c-\x1f, \x85, U+2028/U+2029: all of them become a space,
# so nothing that any parser treats as a line break survives in one-line text.
_MD_INLINE_RE = re.compile(r"([\\`*_\[\]])")
_MD_LINE_START_RE = re.compile(r"^([#+\-])")
_MD_LIST_NUMBER_RE = re.compile(r"^(\d+)([.)])")
_URL_SAFE = "/:?#@!$&+,;=%~-._*"


def clean(text: str | None) -> str:
    """Drop the characters no output may carry; keep everything else as it is."""
    if not text:
        return ""
    return _DROP_RE.sub("", str(text))


def one_line(text: str | None, limit: int | None = LINE_LIMIT) -> str:
    """Cleaned text on one line (all whitespace runs become one space), trimmed to ``limit``."""
    # Split before dropping so that a control between two words still separates them.
    words = str(text or "").split()
    line = " ".join(w for w in (clean(w) for w in words) if w)
    return trim(line, limit) if limit else line


def trim(text: str, limit: int) -> str:
    """Cut at a word boundary (when there is one in the last 40%) and end with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def authors_line(authors: tuple[str, ...] | list[str], limit: int = MAX_AUTHORS) -> str:
    """"A, B, C et al.": at most ``limit`` names, each cleaned and trimmed; "" when none."""
    names = [n for n in (one_line(a, AUTHOR_LIMIT) for a in authors) if n]
    if not names:
        return ""
    shown = ", ".join(names[:limit])
    return shown + " et al." if len(names) > limit else shown


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for an href and a Markdown link, or None.

    Anything that could end a Markdown link or an HTML attribute early (spaces, quotes,
    parentheses, angle brackets, backslashes) is percent-encoded; other schemes
    (``javascript:``, ``data:``, ``file:``) and URLs without a host are refused.
    """
    if not url:
        return None
    text = clean(str(url)).strip()
    if not text or any(ch.isspace() for ch in text) or len(text) > 2048:
        return None
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    netloc = parts.netloc
    if not netloc.isascii():
        try:
            netloc = netloc.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not re.fullmatch(r"[A-Za-z0-9.\-_:@%\[\]]+", netloc):
        return None
    rest = [quote(p, safe=_URL_SAFE) for p in (parts.path, parts.query, parts.fragment)]
    return urlunsplit((parts.scheme.lower(), netloc, rest[0], rest[1], rest[2]))


def arxiv_url(paper: Paper) -> str | None:
    """The arXiv abstract page, for new-style ids only (digits and a dot are safe in a URL)."""
    arxiv = normalize_arxiv_id(paper.arxiv_id)
    if arxiv and re.fullmatch(r"\d{4}\.\d{4,5}", arxiv):
        return f"https://arxiv.org/abs/{arxiv}"
    return None


def paper_url(paper: Paper) -> str | None:
    """The link a paper's title gets: its own http(s) URL, else its arXiv abstract page."""
    return safe_url(paper.url) or arxiv_url(paper)


def md_escape(text: str, line_start: bool = False) -> str:
    """Escape one line of cleaned text so Markdown shows it literally.

    HTML-significant characters become entities (python-markdown passes raw HTML through)
    and inline Markdown punctuation gets a backslash. Link syntax cannot form because ``[``
    and ``]`` are escaped, and autolinks cannot form because ``<`` is. With ``line_start``
    the text begins a paragraph, so a start that would open a heading or a list is escaped too.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_INLINE_RE.sub(r"\\\1", text)
    if line_start:
        text = _MD_LIST_NUMBER_RE.sub(r"\1\\\2", text)
        text = _MD_LINE_START_RE.sub(r"\\\1", text)
    return text
