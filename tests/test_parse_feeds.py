"""JSON Feed captures, RSS/Atom, the daily-papers API, the listing HTML, format detection."""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import feedparser
import pytest

from paperdigest.errors import ParseError
from paperdigest.models import Listing
from paperdigest.sources.parse import parse_listing, sniff
from paperdigest.sources.common import split_ai_summary

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
CAPTURES = SHARED / "feeds" / "hf-papers"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "parse"
UTC = timezone.utc

ABSTRACT = (
    "Long documents overwhelm the context window of small models. We split each document "
    "into chapters, summarise them recursively, and keep a sparse index that lets the model "
    "jump back to the exact paragraph when a question needs detail. On three long-document "
    "benchmarks the method closes most of the gap to models with ten times the context."
)
SUMMARY = "A recursive summary index lets small models answer questions about long documents."


def feed(*items: dict[str, Any]) -> bytes:
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1", "title": "Invented", "items": list(items)}
    ).encode()


def item(n: int, **kw: Any) -> dict[str, Any]:
    base = {
        "id": f"https://huggingface.co/papers/2601.{n:05d}",
        "url": f"https://huggingface.co/papers/2601.{n:05d}",
        "title": f"Invented Paper Number {n}: Something About Models",
        "content_text": ABSTRACT,
        "date_published": "2026-01-12T08:30:00",
    }
    base.update(kw)
    return base


def error_of(data: bytes, **kw: Any) -> str:
    with pytest.raises(ParseError) as info:
        parse_listing(data, name="src-3", **kw)
    message = str(info.value)
    assert "\n" not in message and message.startswith("src-3: "), message
    return message


# --------------------------------------------------------------------------- the 60 captures


def test_sixty_captures_in_filename_order() -> None:
    """1,100 items = 1,099 paper items + 1 sentinel; 278 distinct item ids = 277 papers +
    the sentinel's id "1". The sentinel is not a paper, so the papers have 277 keys."""
    paths = sorted(CAPTURES.glob("*.json"))
    assert len(paths) == 60
    listings = [parse_listing(p.read_bytes(), name=p.name) for p in paths]
    raw_items = [json.loads(p.read_bytes())["items"] for p in paths]
    assert sum(len(items) for items in raw_items) == 1100
    assert len({i["id"] for items in raw_items for i in items}) == 278
    assert sum(len(L.papers) for L in listings) == 1099
    keys = {p.key for L in listings for p in L.papers}
    assert len(keys) == 277
    broken = [p.name for p, L in zip(paths, listings) if L.broken]
    assert broken == ["2025-02-12T1326.json"]
    for path, L in zip(paths, listings):
        assert L.format == "jsonfeed" and not L.problems
        assert bool(L.warnings) == L.broken
        for p in L.papers:
            assert p.arxiv_id and p.url == f"https://huggingface.co/papers/{p.arxiv_id}"
            assert p.key == f"arxiv:{p.arxiv_id}"
            assert p.published is not None and p.published.utcoffset() == UTC.utcoffset(None)
            assert p.ai_summary is None and len(p.abstract) > 400
    # The 2025 captures hold no drift: abstracts that merely mention "AI-generated" stay whole.
    mentions = [p for L in listings for p in L.papers if "AI-generated" in p.abstract]
    assert mentions and all(p.abstract.endswith(".") for p in mentions)
    # A paper recurs across captures with the same text.
    by_key: dict[str, Any] = {}
    for L in listings:
        for p in L.papers:
            assert by_key.setdefault(p.key, (p.title, p.abstract)) == (p.title, p.abstract)


def test_broken_capture_is_an_empty_broken_listing() -> None:
    L = parse_listing((CAPTURES / "2025-02-12T1326.json").read_bytes(), name="cap")
    assert L.broken and L.papers == [] and L.format == "jsonfeed"
    assert "Something is wrong" in L.warnings[0]


@pytest.mark.parametrize("stem", ["2025-02-10T0928", "2025-02-13T0922", "2025-02-17T0924"])
def test_rss_copies_match_their_json_captures(stem: str) -> None:
    rss = parse_listing((CAPTURES / f"{stem}.xml").read_bytes(), name=stem)
    js = parse_listing((CAPTURES / f"{stem}.json").read_bytes(), name=stem)
    assert rss.format == "rss" and js.format == "jsonfeed"
    assert len(rss.papers) == len(js.papers) > 10
    for a, b in zip(rss.papers, js.papers):
        assert (a.key, a.title, a.abstract, a.url, a.published) == (
            b.key, b.title, b.abstract, b.url, b.published,
        )


def test_dates_with_and_without_z_are_utc() -> None:
    L = parse_listing(
        feed(item(1, date_published="2026-01-12T08:30:00Z"), item(2), item(3, date_published="2026-01-12T09:30:00+01:00")),
        name="f",
    )
    assert [p.published for p in L.papers] == [datetime(2026, 1, 12, 8, 30, tzinfo=UTC)] * 3


# --------------------------------------------------------------------------- drift


def test_drift_ai_generated_summary_marker() -> None:
    text = f"Abstract  \t\t\t\t{SUMMARY}  \t\t\t\t\tAI-generated summary \t\t\t\t {ABSTRACT}"
    p = parse_listing(feed(item(1, content_text=text)), name="f").papers[0]
    assert (p.abstract, p.ai_summary) == (ABSTRACT, SUMMARY)


def test_drift_generated_by_model_marker() -> None:
    text = f"Abstract {SUMMARY} Generated by acme-labs/summarizer-7b-v2.1 {ABSTRACT}"
    p = parse_listing(feed(item(1, content_text=text)), name="f").papers[0]
    assert (p.abstract, p.ai_summary) == (ABSTRACT, SUMMARY)


def test_drift_marker_without_abstract_heading() -> None:
    text = f"{SUMMARY}  \t\t\t\t\tAI-generated summary \t\t\t\t {ABSTRACT}"
    assert split_ai_summary(text) == (ABSTRACT, SUMMARY)
    p = parse_listing(feed(item(1, content_text=text)), name="f").papers[0]
    assert (p.abstract, p.ai_summary) == (ABSTRACT, SUMMARY)
    rss = (
        "<rss version='2.0'><channel><item><title>Drifted Item</title>"
        "<link>https://huggingface.co/papers/2601.00009</link>"
        f"<description>{text}</description></item></channel></rss>"
    ).encode()
    p = parse_listing(rss, name="r").papers[0]
    assert (p.abstract, p.ai_summary, p.arxiv_id) == (ABSTRACT, SUMMARY, "2601.00009")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Abstract\n{ABSTRACT}", ABSTRACT),
        (f"Abstract: {ABSTRACT}", ABSTRACT),
        (f"Abstract {ABSTRACT}", ABSTRACT),  # "Abstract Long documents…": a heading
        ("Abstract reasoning is hard for models. " + ABSTRACT, "Abstract reasoning is hard for models. " + ABSTRACT),
        ("Abstract Meaning Representation parsing is studied. " + ABSTRACT, "Abstract Meaning Representation parsing is studied. " + ABSTRACT),
        (
            "We study how readers judge each AI-generated summary of a news story. " + ABSTRACT,
            "We study how readers judge each AI-generated summary of a news story. " + ABSTRACT,
        ),
        (
            "Benchmarks of AI-generated summary quality disagree. AI-generated summary length matters less than expected in our study of forty systems.",
            "Benchmarks of AI-generated summary quality disagree. AI-generated summary length matters less than expected in our study of forty systems.",
        ),
    ],
)
def test_drift_leaves_ordinary_abstracts_alone(text: str, expected: str) -> None:
    abstract, summary = split_ai_summary(text)
    assert abstract == expected and summary is None


def test_sentinel_among_papers_flags_broken_and_keeps_papers() -> None:
    sentinel = {"id": "1", "title": "Something is wrong - no hf papers feed generated", "date_published": "2026-02-01T10:00:00.123456"}
    L = parse_listing(feed(item(1), sentinel, item(2)), name="f")
    assert L.broken and len(L.papers) == 2 and len(L.warnings) == 1
    assert all("Something is wrong" not in p.title for p in L.papers)


def test_items_without_title_are_skipped_and_without_abstract_kept_with_a_note() -> None:
    L = parse_listing(
        feed(item(1, title=None), item(2), item(3, title="   "), item(4, content_text=""), "junk", item(5, title=7),
             item(6, content_text="   ")),
        name="f",
    )
    assert [p.arxiv_id for p in L.papers] == ["2601.00002", "2601.00004", "2601.00006"]
    assert [p.abstract for p in L.papers][1:] == ["", ""]  # not yet available: kept by its title
    assert L.problems == [
        "item 1 has no title: skipped",
        "item 3 has no title: skipped",
        "item 5 is not an object: skipped",
        "item 6 has no title: skipped",
    ]
    assert L.warnings == [
        "item 4 'Invented Paper Number 4: Something About Models' has no abstract yet: kept with its title",
        "item 7 'Invented Paper Number 6: Something About Models' has no abstract yet: kept with its title",
    ]


def test_duplicate_items_and_odd_fields() -> None:
    L = parse_listing(
        feed(
            item(1, title="Wrapped\n  Title Across Lines", date_published="yesterday"),
            item(1, url=None),
            item(2, id=None, url="https://example.org/p/2601.00002v3", authors=[{"name": "Lu Chen"}, {"x": 1}]),
        ),
        name="f",
    )
    assert [p.key for p in L.papers] == ["arxiv:2601.00001", "arxiv:2601.00002"]
    assert L.papers[0].title == "Wrapped Title Across Lines" and L.papers[0].published is None
    assert L.papers[1].authors == ("Lu Chen",)
    assert sum("repeats paper 1" in p for p in L.problems) == 1
    assert any("unreadable date" in p for p in L.problems)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"version": "https://jsonfeed.org/version/1", "items": [', "invalid JSON"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": []}', "no paper in this JSON Feed"),
        (b'{"hello": "world"}', "unknown shape"),
        (b"[1, 2, 3]", "no paper in this daily-papers list"),
        (b'{"error": "Rate limit exceeded"}', "the API answered with an error: Rate limit exceeded"),
        (b"[" * 100000, "invalid JSON"),
        (b'{"items": "nope"}', "unknown shape"),
    ],
)
def test_bad_json(data: bytes, fragment: str) -> None:
    assert fragment in error_of(data)


def test_explicit_format_mismatch() -> None:
    assert "not a JSON Feed" in error_of(FIXTURES.joinpath("hf_api.json").read_bytes(), format="jsonfeed")
    assert "unknown shape" in error_of(feed(item(1)), format="hf-api")
    assert "an Atom feed, not rss" in error_of(FIXTURES.joinpath("arxiv_atom.xml").read_bytes(), format="rss")
    assert "invalid XML" in error_of(feed(item(1)), format="atom")
    assert "unknown format" in error_of(feed(item(1)), format="csv")


# --------------------------------------------------------------------------- RSS / Atom


def test_arxiv_style_rss() -> None:
    data = (FIXTURES / "arxiv_rss.xml").read_bytes()
    L = parse_listing(data, name="rss", content_type="application/rss+xml")
    assert L.format == "rss" and len(L.papers) == 2
    a, b = L.papers
    assert a.arxiv_id == "2406.01234" and a.url == "https://arxiv.org/abs/2406.01234"
    assert a.abstract.startswith("Summaries are more useful") and a.abstract.endswith("transcripts.")
    assert a.authors == ("Ada Quill", "Brook Ferris", "Chen Hollow")
    assert a.published == datetime(2024, 6, 3, 4, 0, tzinfo=UTC)
    assert b.title == "Tidal Tokens: Position Encodings That Ebb & Flow"
    assert b.abstract.startswith("Rotary position encodings") and "<" not in b.abstract
    assert b.authors == ("Dara Sands", "Eli Marsh") and b.arxiv_id == "2406.05678"
    assert L.problems == ["item 2 has no title: skipped"]
    # feedparser reads the same number of items with the same titles.
    parsed = feedparser.parse(data)
    assert [e.title for e in parsed.entries if e.title] == [p.title for p in L.papers]


def test_rss_plain_description_keeps_special_tokens() -> None:
    data = (
        b"<rss version='2.0'><channel><item><title>Retrieval on Demand</title>"
        b"<link>https://arxiv.org/abs/2406.04444</link><description>The model emits a "
        b"&lt;RET&gt; token when it lacks knowledge, and x &lt; y holds for every retrieval "
        b"budget we tried across four question answering benchmarks.</description></item>"
        b"</channel></rss>"
    )
    p = parse_listing(data, name="rss").papers[0]
    assert "emits a <RET> token" in p.abstract and "x < y" in p.abstract


def test_arxiv_api_style_atom() -> None:
    L = parse_listing((FIXTURES / "arxiv_atom.xml").read_bytes(), name="atom")
    assert L.format == "atom" and len(L.papers) == 2 and not L.problems
    a, b = L.papers
    assert a.title == "Orchard: Growing Decision Trees Inside Transformer Layers"
    assert a.arxiv_id == "2406.07777" and a.url == "http://arxiv.org/abs/2406.07777v1"
    assert a.authors == ("Fern Ashby", "Gus Thorne")
    assert a.published == datetime(2024, 6, 4, 17, 59, 58, tzinfo=UTC)
    assert a.abstract.startswith("We replace the feed-forward") and "\n" not in a.abstract
    assert b.title == "Counting Sheep <and Goats>: Open-Vocabulary Object Counting"
    assert b.published == datetime(2024, 6, 6, 6, 0, tzinfo=UTC)  # from <updated>
    assert b.url == "http://arxiv.org/abs/2406.08888v3" and b.arxiv_id == "2406.08888"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><item><title>&lol3;</title><description>x</description></item></channel></rss>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&xxe;</title><description>x</description></item></channel></rss>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_xml_entity_tricks_are_refused(data: bytes) -> None:
    assert "entity declarations or external references refused" in error_of(data)
    assert "refused" in error_of(data, format="rss")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"<rss version='2.0'><channel><item><title>Half", "invalid XML"),
        (b"<?xml version='1.0'?><opml><body/></opml>", "neither RSS nor Atom"),
        (b"<rss version='2.0'><channel><title>Empty</title></channel></rss>", "no paper in this RSS feed"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><summary>An abstract alone.</summary></entry></feed>",
         "has no title"),
    ],
)
def test_bad_xml(data: bytes, fragment: str) -> None:
    assert fragment in error_of(data)


# --------------------------------------------------------------------------- HF API and HTML


def test_daily_papers_api() -> None:
    L = parse_listing((FIXTURES / "hf_api.json").read_bytes(), name="api", content_type="application/json")
    assert L.format == "hf-api" and len(L.papers) == 3
    a, missing, b = L.papers
    assert a.arxiv_id == "2502.11111" and a.url == "https://huggingface.co/papers/2502.11111"
    assert a.authors == ("Ines Varga", "Jon Bell") and a.upvotes == 42
    assert a.published == datetime(2025, 2, 17, 18, 59, 1, tzinfo=UTC)
    assert a.ai_summary and a.ai_summary.startswith("Caching intermediate")
    assert b.arxiv_id == "2502.13333" and b.ai_summary is None and b.authors == ()
    assert b.published == datetime(2025, 2, 16, 9, 30, tzinfo=UTC)
    assert L.problems == []
    assert (missing.title, missing.abstract, missing.upvotes) == ("A Paper Whose Summary Went Missing", "", 5)
    assert L.warnings == ["item 2 'A Paper Whose Summary Went Missing' has no abstract yet: kept with its title"]


def page(props: Any, key: str = "dailyPapers", extra: str = "") -> bytes:
    attr = html.escape(json.dumps({key: props, "date": "2025-02-18"} if key else props), quote=True)
    return (
        "<!doctype html><html><head><title>Daily Papers</title><script>var x = '<div>';</script></head>"
        f"<body><nav>Models Datasets Papers</nav>{extra}"
        f'<section><div data-target="DailyPapers" data-props="{attr}"><h3>placeholder</h3></div></section>'
        "</body></html>"
    ).encode()


@pytest.mark.parametrize("key", ["dailyPapers", "papers", "initialPapers"])
def test_listing_html_data_props(key: str) -> None:
    items = json.loads((FIXTURES / "hf_api.json").read_text())
    L = parse_listing(page(items, key), name="page.html", content_type="text/html; charset=utf-8")
    api = parse_listing((FIXTURES / "hf_api.json").read_bytes(), name="api")
    assert L.format == "html" and L.papers == api.papers
    assert L.problems == api.problems
    assert str(L.date) == "2025-02-18"


def test_listing_html_without_element_falls_back_to_visible_text() -> None:
    lines = [ln for ln in (FIXTURES / "blank_layout.txt").read_text().split("\n") if ln.strip()]
    body = "".join(f"<p>{html.escape(ln)}</p>\n" for ln in lines)
    data = f"<!DOCTYPE html><html><body><main>{body}</main><script>ignored()</script></body></html>".encode()
    L = parse_listing(data, name="saved.html")
    text = parse_listing((FIXTURES / "blank_layout.txt").read_bytes(), name="t")
    assert L.format == "html" and L.papers == text.papers
    assert "visible text" in L.warnings[0]


def test_html_error_pages_and_broken_props() -> None:
    error_page = b"<html><body><h1>429 Too Many Requests</h1><p>Slow down and retry later, please. You have sent too many requests in a given amount of time.</p></body></html>"
    assert "HTML page without a paper list (an error page?)" in error_of(error_page)
    assert "HTML page without a paper list" in error_of(error_page, format="html")
    bad_props = b'<html><body><div data-target="DailyPapers" data-props="{not json"></div></body></html>'
    assert "paper list is unusable" in error_of(bad_props)
    empty = page([])
    assert "paper list is unusable" in error_of(empty)
    assert "not an HTML page" in error_of(b"Plain words, not markup at all.", format="html")


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("fixture", "content_type", "fmt"),
    [
        ("hf_api.json", "text/html", "hf-api"),  # wrong type: sniffing rescues it
        ("hf_api.json", "text/plain", "hf-api"),
        ("hf_api.json", None, "hf-api"),
        ("arxiv_rss.xml", "application/json", "rss"),
        ("arxiv_rss.xml", "application/atom+xml", "rss"),
        ("arxiv_rss.xml", "text/xml; charset=utf-8", "rss"),
        ("arxiv_atom.xml", None, "atom"),
        ("arxiv_atom.xml", "application/octet-stream", "atom"),
        ("blank_layout.txt", "application/json", "text"),
        ("packed_layout.txt", "text/html", "text"),
        ("packed_layout.txt", None, "text"),
    ],
)
def test_auto_detection(fixture: str, content_type: str | None, fmt: str) -> None:
    data = (FIXTURES / fixture).read_bytes()
    L = parse_listing(data, name=fixture, content_type=content_type)
    assert L.format == fmt and L.papers
    declared_wrong = content_type in ("text/html", "text/plain", "application/json")
    assert any("declared content type" in w for w in L.warnings) == declared_wrong


def test_jsonfeed_served_as_html_and_feed_json() -> None:
    data = feed(item(1), item(2))
    for ct in ("text/html", "application/feed+json", None):
        assert len(parse_listing(data, name="f", content_type=ct).papers) == 2


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('  {"items": []}', "json"),
        ("[{}]", "json"),
        ("[Re] Reproducing a Result\nAn abstract…", "text"),
        ("<?xml version='1.0'?>\n<!-- c -->\n<rss>", "rss"),
        ("<rdf:RDF xmlns:rdf='x'>", "rss"),
        ("<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'>", "atom"),
        ("<!DOCTYPE html><html>", "html"),
        ("<html lang='en'>", "html"),
        ("<?xml version='1.0'?><opml/>", "xml"),
        ("new\n\nGet trending papers", "text"),
    ],
)
def test_sniff(text: str, kind: str) -> None:
    assert sniff(text) == kind


def test_listing_type() -> None:
    assert isinstance(parse_listing(feed(item(1)), name="f"), Listing)
