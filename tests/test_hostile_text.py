"""Untrusted paper text through every output: Markdown, text, HTML email, RSS, Atom, headers.

Each case puts the same hostile string in every free-text field (profile title, warning,
title, abstract, authors, AI summary, keyword, arXiv id, digest id) and checks the same
invariants everywhere: markup shows as text or disappears, never runs; no control, bidi or
XML-illegal character survives; XML stays well-formed; no header gains a line; huge text
is trimmed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from email import message_from_bytes, policy
from html.parser import HTMLParser
from xml.etree import ElementTree

import feedparser
import pytest

from paperdigest.delivery.emailmsg import build_email
from paperdigest.delivery.feeds import render_feed
from paperdigest.delivery.render import markdown_to_html, render_html, render_markdown, render_text
from paperdigest.delivery.textsafe import TITLE_LIMIT, one_line
from tests.sample_digest import CREATED, email_config, hostile_entry, hostile_view

CASES = {
    "script": "<script>alert('x')</script> Title",
    "img-onerror": '<img src=x onerror="alert(1)"> Title',
    "js-link-markdown": "[click me](javascript:alert(1)) and <javascript:alert(1)> ![i](https://evil.example/p.png)",
    "js-link-html": '<a href="javascript:alert(1)" onclick="steal()">x</a>',
    "cdata": "]]> <![CDATA[ <b>x</b> ]]> end",
    "entities": "Tom & Jerry &amp; &lt;b&gt; &#x3C;script&#x3E;",
    "controls": "Bell\x07 NUL\x00 ESC\x1b[31m DEL\x7f C1\x85\x9b end",
    "bidi": "safe \u202egnp.exe\u202c and \u2066isolate\u2069 \u202a\u202b\u202d done",
    "crlf": "Title\r\nBcc: victim@example.com\r\n\r\n<h1>body</h1>",
    "line-separators": "one\u2028two\u2029three\x0bfour\x0cfive\x1csix",
    "markdown": "**bold** _it_ `code` ~~s~~ # head\n- item\n1. one\n> quote\n\n---\n| a | b |\n    indented",
    "style-link": "<style>body{display:none}</style><link rel=stylesheet href=https://evil.example/x.css>",
    "svg-iframe": '<svg onload=alert(1)><iframe src="https://evil.example"></iframe></svg>',
    "surrogates": "lone \ud800 surrogate \udfff here",
    "non-characters": "x\ufffe\uffff\ufeffy",
    "huge": "A" * 100_000,
    "huge-words": "word " * 20_000,
    "empty": "",
}
HUGE = {"huge", "huge-words"}
URLS = {
    "none": None,
    "javascript": "javascript:alert(document.cookie)",
    "data": "data:text/html;base64,PHNjcmlwdD4=",
    "quote-breakout": 'https://ok.example/x"onmouseover="alert(1)',
    "markdown-breakout": "https://ok.example/a)[x](javascript:alert(1)",
}

# Nothing that is a control (but LF), a bidi control, a line/paragraph separator, a BOM, a
# surrogate or an XML-illegal non-character may appear in any output.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]")
EMAIL_HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "div", "table", "tbody", "tr", "td",
                   "p", "h1", "h2", "a", "span", "strong", "br"}
FRAGMENT_TAGS = {"p", "a", "em", "strong", "blockquote", "h1", "h2", "code", "hr", "ul", "ol", "li", "br"}


class Page(HTMLParser):
    """Tags with attributes, and the text a reader sees (nothing from <head>)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.chunks: list[str] = []
        self.in_head = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("head", "body"):
            self.in_head = tag == "head"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if not self.in_head:
            self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.chunks).split())


def assert_inert_html(html: str, allowed: set[str]) -> Page:
    page = Page(html)
    for tag, attrs in page.tags:
        assert tag in allowed, f"unexpected <{tag}>"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event attribute {name} on <{tag}>"
            assert name not in ("src", "srcset", "formaction", "background"), f"{name} on <{tag}>"
            if name == "href":
                assert value and re.match(r"(https?:|mailto:)", value), f"href {value!r}"
                assert not re.search(r"[\s\"'<>]", value), f"href {value!r}"
    return page


def visible(text: str) -> str:
    """What a reader should see of a hostile string: cleaned, one line, trimmed."""
    return one_line(text, TITLE_LIMIT)


def outputs(text: str, url: str | None) -> dict[str, str | bytes]:
    view = hostile_view(text, url)
    html = render_html(view)
    plain = render_text(view)
    md = render_markdown(view)
    msg = build_email(view, to="reader@example.com", email=email_config(), text=plain, html=html)
    feeds = {kind: render_feed([hostile_entry(text, url)], kind=kind, feed_id=f"urn:paperdigest:feed:{text}",
                               title=text, link="https://digest.example.org/",
                               self_url="https://digest.example.org/feed.xml", description=text, updated=CREATED)
             for kind in ("rss", "atom")}
    return {"markdown": md, "markdown-html": markdown_to_html(md), "text": plain, "html": html,
            "email": msg.as_bytes(policy=policy.SMTP), **feeds}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, str, dict[str, str | bytes]]:
    name = request.param
    return name, CASES[name], outputs(CASES[name], None)


def test_no_forbidden_characters_anywhere(case) -> None:
    name, text, out = case
    for kind, value in out.items():
        s = value.decode("utf-8").replace("\r\n", "\n") if isinstance(value, bytes) else value
        found = FORBIDDEN.search(s)
        assert found is None, f"{kind}: {found.group()!r} at {found.start()}"


def test_markdown_holds_no_raw_html_or_live_links(case) -> None:
    name, text, out = case
    md = out["markdown"]
    assert isinstance(md, str)
    assert "<" not in md  # every "<" of paper text became &lt;
    targets = re.findall(r"(?<!\\)\]\(([^)]*)\)", md)  # link targets; "\](" is escaped text
    assert all(t.startswith("https://") for t in targets), targets
    page = assert_inert_html(str(out["markdown-html"]), FRAGMENT_TAGS)
    if name not in HUGE:
        assert visible(text) in page.text or not visible(text)


def test_email_html_is_inert_and_shows_the_text(case) -> None:
    name, text, out = case
    page = assert_inert_html(str(out["html"]), EMAIL_HTML_TAGS)
    assert sum(1 for t, _ in page.tags if t == "style") == 1
    if name not in HUGE:
        assert visible(text) in page.text


def test_plain_text_shows_the_text(case) -> None:
    name, text, out = case
    if name not in HUGE:
        assert visible(text) in " ".join(str(out["text"]).split())


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feeds_stay_well_formed(case, kind: str) -> None:
    name, text, out = case
    data = out[kind]
    assert isinstance(data, bytes)
    root = ElementTree.fromstring(data)  # raises if not well-formed
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 1
    if kind == "rss":
        title = root.findtext("channel/item/title")
        body = root.findtext("channel/item/description") or ""
    else:
        ns = "{http://www.w3.org/2005/Atom}"
        title = root.findtext(f"{ns}entry/{ns}title")
        body = root.findtext(f"{ns}entry/{ns}content") or ""
    assert title == (visible(text) or "(untitled)")
    assert len(title) <= TITLE_LIMIT
    assert_inert_html(body, FRAGMENT_TAGS)


def test_headers_gain_no_lines(case) -> None:
    name, text, out = case
    raw = out["email"]
    assert isinstance(raw, bytes)
    msg = message_from_bytes(raw, policy=policy.default)
    names = [k.lower() for k in msg.keys()]
    assert "bcc" not in names and len(names) == len(set(names))
    assert set(names) == {"from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe",
                          "list-unsubscribe-post", "auto-submitted", "x-paperdigest-digest",
                          "mime-version", "content-type"}
    for key, value in msg.items():
        assert "\r" not in str(value) and "\n" not in str(value), key
    # Python folds some long subjects right after "Subject:" and keeps the folding space
    # when parsing back; the value is the same once unfolded.
    subject = str(msg["Subject"]).strip()
    assert subject.startswith("[paperdigest] ") and subject.endswith(": 1 new paper (2025-03-14)")
    assert len(subject) <= 130
    assert msg["To"] == "reader@example.com"


@pytest.mark.parametrize("name", sorted(HUGE))
def test_huge_text_is_trimmed(name: str) -> None:
    out = outputs(CASES[name], None)
    limits = {"markdown": 6_000, "text": 6_000, "html": 30_000, "rss": 8_000, "atom": 8_000, "email": 60_000}
    for kind, limit in limits.items():
        assert len(out[kind]) < limit, f"{kind}: {len(out[kind])} characters"


@pytest.mark.parametrize("url_case", list(URLS))
def test_only_http_urls_become_links(url_case: str) -> None:
    out = outputs("Paper title", URLS[url_case])
    for kind in ("html", "markdown-html"):
        hrefs = [a.get("href") for t, a in Page(str(out[kind])).tags if t == "a"]
        assert all(h and h.startswith(("https://", "http://")) for h in hrefs), hrefs
        assert {urlsplit(h).netloc for h in hrefs if h} <= {"ok.example"}, hrefs
    for kind in ("rss", "atom"):
        links = [m.decode() for m in re.findall(rb'<link>([^<]*)</link>|<link href="([^"]*)"', out[kind]) for m in m if m]
        assert links and all(link.startswith("https://") for link in links), links
        assert {urlsplit(link).netloc for link in links} <= {"ok.example", "digest.example.org"}, links
    assert "](javascript" not in str(out["markdown"])
    if url_case == "quote-breakout":
        assert "https://ok.example/x%22onmouseover=%22alert%281%29" in str(out["html"])
