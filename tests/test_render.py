"""Markdown, text and HTML renderings of a digest (flows/render.py, flows/textsafe.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from jinja2 import UndefinedError

from paperdigest.models import Paper, RankedItem
from paperdigest.delivery.templating import environment
from paperdigest.delivery.render import (counts_line, markdown_to_html, render_html, render_markdown,
                          render_text)
from paperdigest.delivery.textsafe import ABSTRACT_LIMIT, md_escape, one_line, safe_url, trim
from tests.sample_digest import ITEMS, PAPERS, empty_view, sample_view


class Tags(HTMLParser):
    """Every start tag with its attributes, and the visible text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


# --------------------------------------------------------------------------- goldens


def test_markdown_matches_golden(golden) -> None:
    golden(render_markdown(sample_view()), "digest.md")


def test_text_matches_golden(golden) -> None:
    golden(render_text(sample_view()), "email.txt")


def test_html_matches_golden(golden) -> None:
    golden(render_html(sample_view()), "email.html")


def test_rendering_is_deterministic() -> None:
    view = sample_view()
    assert render_markdown(view) == render_markdown(sample_view())
    assert render_html(view) == render_html(sample_view())


# --------------------------------------------------------------------------- Markdown


def test_markdown_header_counts_and_warning() -> None:
    md = render_markdown(sample_view())
    first = md.splitlines()[0]
    assert first == "# Efficient inference: paper digest for 2025-03-14"
    assert "57 new papers since the last digest; 5 matched this profile's keywords; showing the top 3." in md
    assert '> ⚠ The capture from source "hf-daily" looks short' in md


def test_markdown_items_title_link_authors_reasons_summary() -> None:
    md = render_markdown(sample_view())
    assert ("## 1. [Draft Trees, Not Draft Chains: Speculative Decoding for Low-Latency LLM Serving]"
            "(https://example.org/papers/2503.10001)") in md
    assert "*Mira Okonkwo, Tobias Lindqvist, Hana Sato*" in md
    assert "**Score 3.50** · why you see this: speculative decoding (title+abstract, +2.50); latency (title, +1.00)" in md
    assert "> **AI summary:** A tree of draft tokens" in md
    # Without its own URL a paper links to its arXiv page; with neither there is no link.
    assert "[Three Bits Are Enough: Quantized KV Caches Without Retraining](https://arxiv.org/abs/2503.10002)" in md
    assert "## 3. Small &amp; Fast: Pruning &lt;1B Models with \\*Structured\\* Masks\\_v2\n" in md
    # Eight authors: six shown.
    assert "Carmen Ruiz et al.*" in md and "Felix Braun" not in md
    assert md.index("## 1.") < md.index("## 2.") < md.index("## 3.")


def test_markdown_abstract_trimmed_at_word_boundary() -> None:
    md = render_markdown(sample_view())
    long_abstract = PAPERS[1].abstract
    assert len(long_abstract) > ABSTRACT_LIMIT
    shown = next(line for line in md.splitlines() if line.startswith("The key-value cache"))
    assert len(shown) <= ABSTRACT_LIMIT and shown.endswith("…")
    assert long_abstract.startswith(shown[:-1])
    assert long_abstract[len(shown) - 1] == " "  # cut between words
    # Short abstracts are shown whole.
    assert PAPERS[0].abstract in md


def test_markdown_renders_to_html_with_links() -> None:
    html = markdown_to_html(render_markdown(sample_view()))
    page = Tags(html)
    hrefs = [a["href"] for a in page.named("a")]
    assert "https://example.org/papers/2503.10001" in hrefs
    assert "https://arxiv.org/abs/2503.10002" in hrefs
    assert len(page.named("h2")) == 3
    text = "".join(page.text)
    assert "Small & Fast: Pruning <1B Models with *Structured* Masks_v2" in text


def test_markdown_to_html_sanitizes_raw_markdown() -> None:
    html = markdown_to_html('Hi <script>alert(1)</script> <img src=x onerror="alert(1)"> '
                            '[x](javascript:alert(1)) <a href="https://ok.example/">ok</a>')
    page = Tags(html)
    assert not page.named("script") and not page.named("img")
    assert all(a.get("href") in (None, "https://ok.example/") for a in page.named("a"))
    assert "onerror" not in html and "javascript:" not in html.replace("[x](javascript", "")


@pytest.mark.parametrize("new_papers, reason", [
    (0, "There were no new papers since the last digest."),
    (12, "None of the 12 new papers matched this profile's keywords."),
])
def test_empty_digest_says_why(new_papers: int, reason: str) -> None:
    view = empty_view(new_papers)
    assert view.empty_reason == reason
    md, text, html = render_markdown(view), render_text(view), render_html(view)
    assert reason in md and reason in text and reason in "".join(Tags(html).text)
    assert "## " not in md and "Why you see this" not in text and 'class="item"' not in html


def test_counts_line_singular_and_no_cap() -> None:
    view = sample_view(new_papers=1, matched=1, items=ITEMS[:1])
    assert counts_line(view) == "1 new paper since the last digest; 1 matched this profile's keywords."


# --------------------------------------------------------------------------- text


def test_text_is_wrapped_with_urls_whole() -> None:
    text = render_text(sample_view())
    for line in text.splitlines():
        assert len(line) <= 72 or line.strip().startswith("https://"), line
    assert "\n   https://example.org/papers/2503.10001\n" in text
    assert "1. Draft Trees, Not Draft Chains" in text
    assert "Small & Fast: Pruning <1B Models with *Structured* Masks_v2" in text  # text stays text
    assert "arXiv:2503.10001 · listed 3 days · ▲ 42 (+15 since yesterday)" in text
    assert "\n-- \n" in text  # signature separator


# --------------------------------------------------------------------------- HTML


def test_html_is_a_self_contained_inlined_document() -> None:
    html = render_html(sample_view())
    assert html.startswith("<!DOCTYPE html>")
    page = Tags(html)
    assert not page.named("script") and not page.named("link") and not page.named("img")
    assert not any("src" in attrs for _, attrs in page.tags)
    assert not re.search(r"@import|url\(", html)
    assert all(a["href"].startswith(("https://", "http://")) for a in page.named("a"))  # type: ignore[union-attr]
    # CSS inlined: the styled elements carry style attributes, one <style> left for @media.
    styled = [attrs for _, attrs in page.tags if attrs.get("style")]
    assert len(styled) > 20
    assert len(page.named("style")) == 1
    assert "@media (prefers-color-scheme: dark)" in html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    assert b"charset" in html.encode()[:1024]  # browsers look for it in the first 1024 bytes
    # A single 600px column.
    assert [t for t in page.named("table") if t.get("width") == "600"]
    assert "max-width: 600px" in html


def test_html_items_show_everything() -> None:
    html = render_html(sample_view())
    text = " ".join("".join(Tags(html).text).split())
    for item in ITEMS:
        assert one_line(item.paper.title) in text
        assert item.why() in text
    assert "AI summary: A tree of draft tokens" in text
    assert "⚠ The capture from source \"hf-daily\" looks short" in text


def test_templates_autoescape_html_only_and_are_strict() -> None:
    env = environment()
    assert env.autoescape("email.html.j2") is True  # type: ignore[operator]
    assert env.autoescape("partials/email_body.html.j2") is True  # type: ignore[operator]
    assert env.autoescape("digest.md.j2") is False  # type: ignore[operator]
    with pytest.raises(UndefinedError):
        env.get_template("digest.md.j2").render()


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("url, expected", [
    ("https://example.org/a", "https://example.org/a"),
    ("HTTP://example.org", "http://example.org"),
    ("https://example.org/p?q=(1)&x=\"y\"", "https://example.org/p?q=%281%29&x=%22y%22"),
    ("javascript:alert(1)", None),
    ("JaVaScRiPt:alert(1)", None),
    ("data:text/html,<b>x</b>", None),
    ("file:///etc/passwd", None),
    ("https:///no-host", None),
    ("https://example.org/a b", None),
    ("//example.org/x", None),
    ("", None),
])
def test_safe_url(url: str, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_paper_without_safe_url_or_id_is_not_linked() -> None:
    paper = Paper(title="Linkless", abstract="a", url="javascript:alert(1)")
    md = render_markdown(sample_view(items=(RankedItem(paper, 1.0, ()),)))
    assert "## 1. Linkless\n" in md and "javascript" not in md


def test_trim_and_escape_helpers() -> None:
    assert trim("alpha beta gamma delta", 15) == "alpha beta…"
    assert trim("x" * 50, 10) == "x" * 9 + "…"
    assert md_escape("1. two") == "1. two"
    assert md_escape("1. two", line_start=True) == "1\\. two"
    assert md_escape("# h", line_start=True) == "\\# h"
    assert md_escape("[a](b) <c> & *d*") == "\\[a\\](b) &lt;c&gt; &amp; \\*d\\*"
