"""Properties: any input gives a Listing or a one-line ParseError, for every format; and
listings never seen before, in both page-text layouts, parse to exactly their papers."""

from __future__ import annotations

import codecs
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperdigest.config import SOURCE_FORMATS
from paperdigest.errors import ParseError
from paperdigest.models import Listing, fold_title
from paperdigest.sources.parse import _parse, decode_text, parse_listing

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
LAYOUTS = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))

# --------------------------------------------------------------------------- arbitrary input

_KEYS = st.sampled_from(
    ["id", "url", "title", "content_text", "summary", "paper", "items", "authors", "name",
     "publishedAt", "date_published", "upvotes", "ai_summary", "version", "dailyPapers", "error"]
)  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS | st.text(max_size=4), inner, max_size=6),
    max_leaves=25,
)
_FRAGMENTS = st.sampled_from(
    ["<rss version='2.0'>", "</rss>", "<channel>", "<item>", "</item>", "<title>", "</title>",
     "<description>", "</description>", "<link>", "</link>", "<guid>", "<pubDate>", "</pubDate>",
     "<feed xmlns='http://www.w3.org/2005/Atom'>", "</feed>", "<entry>", "</entry>",
     "<summary type='html'>", "</summary>", "<id>", "</id>", "<author><name>", "</name></author>",
     "<?xml version='1.0'?>", "<!DOCTYPE x [<!ENTITY a 'aa'>]>", "&a;", "&amp;", "&#0;", "<![CDATA[",
     "]]>", "<!DOCTYPE html><html>", '<div data-target="DailyPapers" data-props="', '">', "&quot;",
     "<script>", "</script>", "<!--", "-->", "<![if", "Mon, 10 Feb 2025 05:22:26 GMT",
     "2025-02-10T05:22:26Z", "https://huggingface.co/papers/2502.04507", "Abstract",
     "AI-generated summary", "Something is wrong", "Mar 11", "Subscribe", "SubscribeX", "new",
     "\n", "\n\n", "\r\n", "\ufeff"]
) | st.text(max_size=40)  # fmt: skip
CONTENT = st.one_of(
    st.binary(max_size=3000),
    st.text(max_size=3000).map(lambda t: t.encode("utf-8", "surrogatepass")),
    _JSON.map(lambda v: json.dumps(v).encode()),
    st.lists(_FRAGMENTS, max_size=60).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass")),
)
CONTENT_TYPES = st.none() | st.sampled_from(
    ["application/json", "application/feed+json", "application/rss+xml", "application/atom+xml",
     "text/html; charset=utf-8", "text/plain", "text/xml", "application/octet-stream", "x/y+json"]
)  # fmt: skip


@FUZZ
@given(CONTENT, st.sampled_from(SOURCE_FORMATS), CONTENT_TYPES)
def test_any_input_gives_a_listing_or_a_one_line_parse_error(
    data: bytes, fmt: str, content_type: str | None
) -> None:
    # _parse is parse_listing without its last-resort net, so a stray exception shows here.
    try:
        listing = _parse(data, "in-1", fmt, content_type, None)
    except ParseError as e:
        message = str(e)
        assert message.startswith("in-1: ") and "\n" not in message
        return
    assert isinstance(listing, Listing)
    assert listing.papers or listing.broken
    assert len({p.key for p in listing.papers}) == len(listing.papers)
    assert all(p.title.strip() for p in listing.papers)
    # An abstract is there, or not yet available (""): never blank space passing for one.
    assert all(p.abstract == "" or p.abstract.strip() for p in listing.papers)


@FUZZ
@given(st.binary(max_size=2000))
def test_decode_text_never_raises(data: bytes) -> None:
    text = decode_text(data)
    assert "\r" not in text and not text.startswith("\ufeff")


# --------------------------------------------------------------------------- unseen listings

_WORDS = (
    "model models data learning sparse dense token tokens attention graph robust efficient "
    "scaling retrieval agents memory vision speech policy reward latent diffusion training "
    "benchmark benchmarks evaluation transfer language multilingual compact adaptive neural "
    "signal causal federated streaming contrastive semantic layer layers budget inference"
).split()
_EXTRA = ["(LLMs)", "93.4%", "x<y", "e.g.,", "state-of-the-art", "GPT-4", "2x", "i.e.", "k-NN", "café", "Zürich"]
_TITLE_WORD = st.sampled_from(_WORDS + ["Towards", "Beyond", "Why", "How", "A", "On", "LLM", "3D", "Æon", "vs."])
_ABSTRACT_WORD = st.sampled_from(_WORDS + _EXTRA)


@st.composite
def titles(draw: st.DrawFn) -> str:
    words = draw(st.lists(_TITLE_WORD, min_size=6, max_size=14))
    title = " ".join(w[:1].upper() + w[1:] for w in words)
    if draw(st.booleans()):
        title = title.replace(" ", ": ", 1)
    return title + draw(st.sampled_from(["", "", "?", "!"]))


@st.composite
def abstracts(draw: st.DrawFn) -> str:
    sentences = []
    for _ in range(draw(st.integers(3, 9))):
        words = draw(st.lists(_ABSTRACT_WORD, min_size=8, max_size=25))
        sentences.append(" ".join(words).capitalize() + ".")
    text = " ".join(sentences)
    if draw(st.integers(0, 4)) == 0:
        text += " Code: https://example.org/" + draw(st.sampled_from(_WORDS))
    return text


@st.composite
def listings(draw: st.DrawFn) -> tuple[list[tuple[str, str]], bool]:
    n = draw(st.integers(1, 12))
    papers = draw(st.lists(st.tuples(titles(), abstracts()), min_size=n, max_size=n,
                           unique_by=lambda p: fold_title(p[0])))  # fmt: skip
    return papers, draw(st.booleans())


def render(papers: list[tuple[str, str]], packed: bool, stray: tuple[int, str] | None = None) -> str:
    """Page text in either layout; ``stray`` = (k, title) puts a lone title before paper k."""
    body = [line for pair in papers for line in pair]
    if stray is not None:
        body.insert(2 * stray[0], stray[1])
    if packed:
        head = ["Get trending papers in your email inbox once a day!", "Get trending papers in your email inbox!"]
        body[0] = "Subscribe" + body[0]
        return "\n".join(head + body)
    head = ["new", "Get trending papers in your email inbox!", "Subscribe", "byAK and the research community", "Jul 9"]
    return "\n\n".join(head + body) + "\n"


def encodings(text: str) -> list[bytes]:
    return [text.encode(), codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode()]


@LAYOUTS
@given(listings())
def test_unseen_listings_parse_to_exactly_their_papers(case: tuple[list[tuple[str, str]], bool]) -> None:
    papers, packed = case
    for data in encodings(render(papers, packed)):
        listing = parse_listing(data, name="gen")
        assert [(p.title, p.abstract) for p in listing.papers] == papers
        assert not listing.problems and not listing.warnings


@LAYOUTS
@given(listings(), titles(), st.data())
def test_a_title_alone_is_a_paper_between_papers_and_costs_no_neighbour(
    case: tuple[list[tuple[str, str]], bool], stray: str, data: st.DataObject
) -> None:
    papers, packed = case
    if any(fold_title(stray) == fold_title(t) for t, _ in papers):
        return
    k = data.draw(st.integers(0, len(papers) - 1))  # before paper k; never the last line
    text = render(papers, packed, stray=(k, stray))
    listing = parse_listing(text.encode(), name="gen")
    got = [(p.title, p.abstract) for p in listing.papers]
    # Before the first paper a lone line cannot be told from page chrome, and one that ends like
    # a sentence ("... Vs.") may be a stray piece of an abstract: reported, not kept.
    if k == 0 or (stray.endswith(".") and not stray.endswith("...")):
        assert got == papers
        assert len(listing.problems) == 1 and "has no abstract: skipped" in listing.problems[0]
    else:  # between two papers: a paper listed before its abstract exists
        assert got == papers[:k] + [(stray, "")] + papers[k:]
        assert not listing.problems
        assert len(listing.warnings) == 1 and "has no abstract yet: kept with its title" in listing.warnings[0]


def _line_offset(text: str, index: int) -> int:
    """Where the index-th non-blank line starts."""
    offset = seen = 0
    for line in text.split("\n"):
        if line.strip():
            if seen == index:
                return offset
            seen += 1
        offset += len(line) + 1
    raise AssertionError(index)


@LAYOUTS
@given(listings(), st.data())
def test_a_cut_keeps_the_complete_papers_before_it(case: tuple[list[tuple[str, str]], bool], data: st.DataObject) -> None:
    papers, packed = case
    text = render(papers, packed)
    k = data.draw(st.integers(0, len(papers) - 1))
    start = _line_offset(text, (2 if packed else 5) + 2 * k + 1)  # paper k's abstract line
    assert text.startswith(papers[k][1], start)
    cut = start + data.draw(st.integers(1, len(papers[k][1]) - 1))
    if text[cut - 1] in ".!?)" or text[cut - 1].isspace() or "https://" in text[start:cut][-40:]:
        return  # a cut right after a sentence or inside a URL looks complete: not detectable
    try:
        listing = parse_listing(text[:cut].encode(), name="gen")
    except ParseError as e:
        assert k == 0, str(e)  # the only paper is cut: nothing is left
        return
    assert [(p.title, p.abstract) for p in listing.papers] == papers[:k]
    assert len(listing.problems) == 1 and ("cut" in listing.problems[0])
