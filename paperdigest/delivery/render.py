"""Render one digest as Markdown, as the text/plain email part and as the HTML email part.

Templates come from :mod:`paperdigest.delivery.templating` (built in, or a newsletter's own). Paper text is cleaned, trimmed and
escaped *here*, in Python, into per-format strings, so a template only places values and a
forgotten filter cannot let markup through: Markdown gets :func:`md_escape`d text, HTML gets
plain text that Jinja autoescapes, and the HTML body is then sanitized with nh3 before the
CSS is inlined. Render once per digest: the result is shared by every recipient.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import css_inline
import markdown as md_lib
import nh3
from markupsafe import Markup

from paperdigest.delivery.templating import compile_all, render_template
from paperdigest.models import Blend, DigestView, FeedEntry, Match, Paper, RankedItem, Sightings
from paperdigest.delivery.textsafe import (ABSTRACT_LIMIT, SUMMARY_LIMIT, TITLE_LIMIT, arxiv_url, authors_line,
                       md_escape, one_line, paper_url)

TEXT_WIDTH = 72

# What the HTML templates (and Markdown's output) may hold after sanitizing.
_HTML_TAGS = {"a", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "li",
              "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul"}
_HTML_ATTRS = {
    "*": {"class"},
    "a": {"href"},
    "table": {"role", "width", "cellpadding", "cellspacing", "border", "align"},
    "td": {"align", "valign", "width"},
}
_URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(tags=_HTML_TAGS, clean_content_tags={"script", "style"}, attributes=_HTML_ATTRS,
                       url_schemes=_URL_SCHEMES, url_relative="deny", strip_comments=True)


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)


def sanitize_html(fragment: str) -> str:
    """Keep only the tags/attributes the templates use; links only http(s)/mailto."""
    return _cleaner().clean(fragment)


# --------------------------------------------------------------------------- view model


@dataclass(frozen=True)
class _Item:
    number: int
    title: str
    url: str | None
    authors: str
    score: str
    why: str
    abstract: str
    summary: str
    arxiv_id: str | None
    arxiv_url: str | None
    upvotes: int | None  # None when unknown, or when ``momentum`` shows them
    momentum: str = ""  # "listed 3 days · ▲ 120 (+45 since yesterday)": what the sightings say
    more_url: str | None = None  # a web subscriber's "more like this" / "not for me" links
    less_url: str | None = None

    @property
    def votes(self) -> str:
        return f"▲ {plural(self.upvotes, 'upvote')}" if self.upvotes is not None else ""

    @property
    def reading(self) -> str:
        """What the listings say of the paper: its momentum line, else its upvotes, else ""."""
        return self.momentum or self.votes

    @property
    def tail(self) -> str:
        """"arXiv:<id> · listed 3 days · ▲ 120 (+45 since yesterday)", the parts that are known."""
        parts = [f"arXiv:{self.arxiv_id}"] if self.arxiv_id else []
        return " · ".join(parts + ([self.reading] if self.reading else []))


@dataclass(frozen=True)
class ReaderLinks:
    """The links an email to one web subscriber carries (made by :mod:`paperdigest.delivery.links`):
    the footer's manage and unsubscribe pages, and per paper, in the digest's order, "more like
    this" and "not for me". Emails to the config's recipients have none."""

    manage: str
    unsubscribe: str
    more: tuple[str, ...] = ()
    less: tuple[str, ...] = ()


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def counts_line(view: DigestView) -> str:
    """One sentence on what this run saw: new, matched and shown."""
    if not view.items:
        return view.empty_reason or ""
    line = (f"{plural(view.new_papers, 'new paper')} since the last digest; "
            f"{view.matched} matched this profile's keywords")
    if view.matched > len(view.items):
        line += f"; showing the top {len(view.items)}"
    return line + "."


NO_ABSTRACT = "Abstract not yet available."


def _item(number: int, it: RankedItem, esc: Callable[[str], str], block: Callable[[str], str],
          reader: ReaderLinks | None = None) -> _Item:
    p = it.paper
    i = number - 1
    more = reader.more[i] if reader is not None and i < len(reader.more) else None
    less = reader.less[i] if reader is not None and i < len(reader.less) else None
    arxiv = one_line(p.arxiv_id, 40) or None
    upvotes = p.upvotes if isinstance(p.upvotes, int) and p.upvotes >= 0 else None
    return _Item(
        number=number,
        title=esc(one_line(p.title, TITLE_LIMIT)) or esc("(untitled)"),
        url=paper_url(p),
        authors=esc(authors_line(p.authors)),
        score=f"{it.score:.2f}",
        why=esc(one_line(it.why())),
        abstract=block(one_line(p.abstract, ABSTRACT_LIMIT)),
        summary=esc(one_line(p.ai_summary, SUMMARY_LIMIT)),
        arxiv_id=esc(arxiv) if arxiv else None,
        arxiv_url=arxiv_url(p),
        upvotes=None if it.sightings is not None else upvotes,
        momentum=esc(it.sightings.describe()) if it.sightings is not None else "",
        more_url=more,
        less_url=less,
    )


def _context(view: DigestView, esc: Callable[[str], str],
             block: Callable[[str], str] | None = None, reader: ReaderLinks | None = None) -> dict[str, Any]:
    """Template values, each already cleaned and trimmed, and escaped with ``esc`` (inline
    text) or ``block`` (text that starts a paragraph)."""
    block = block or esc
    return {
        "title": esc(one_line(view.profile_title, TITLE_LIMIT) or one_line(view.profile_name, 80)),
        "profile_name": esc(one_line(view.profile_name, 80)),
        "digest_id": esc(one_line(view.digest_id, 120)),
        "date": view.date.isoformat(),
        "counts": block(counts_line(view)),
        "warnings": [esc(w) for w in (one_line(w) for w in view.warnings[:10]) if w],
        "empty_reason": block(view.empty_reason or "") or None,
        "items": [_item(i, it, esc, block, reader) for i, it in enumerate(view.items, 1)],
        "manage_url": reader.manage if reader is not None else None,
        "unsubscribe_url": reader.unsubscribe if reader is not None else None,
        "no_abstract": esc(NO_ABSTRACT),
    }


def _plain(text: str) -> str:
    return text


# --------------------------------------------------------------------------- renderers


def render_markdown(view: DigestView, templates: Path | None = None) -> str:
    """The digest as a Markdown document (for files, Prefect artifacts, the README)."""
    ctx = _context(view, md_escape, lambda text: md_escape(text, line_start=True))
    return render_template("digest.md.j2", ctx, templates)


def render_text(view: DigestView, templates: Path | None = None, reader: ReaderLinks | None = None) -> str:
    """The text/plain email part: wrapped at 72 columns, URLs on lines of their own."""
    ctx = _context(view, _plain, reader=reader)
    ctx["rule"] = "-" * min(TEXT_WIDTH, len(f"{ctx['title']}: paper digest for {ctx['date']}"))
    ctx["wrap"] = _wrap
    return render_template("email.txt.j2", ctx, templates)


def _wrap(text: str, indent: str = "", first: str | None = None) -> str:
    return textwrap.fill(text, width=TEXT_WIDTH, initial_indent=indent if first is None else first,
                         subsequent_indent=indent, break_on_hyphens=False) if text else ""


def render_html_body(view: DigestView, templates: Path | None = None, reader: ReaderLinks | None = None) -> str:
    """The digest's HTML body, sanitized, without the document around it (web pages show it)."""
    return _html_body(_context(view, _plain, reader=reader), templates)


def _html_body(ctx: dict[str, Any], templates: Path | None) -> str:
    return sanitize_html(render_template("partials/email_body.html.j2", ctx, templates))


def render_html(view: DigestView, templates: Path | None = None, reader: ReaderLinks | None = None) -> str:
    """The text/html email part: one 600px table column, CSS inlined, no external resources."""
    ctx = _context(view, _plain, reader=reader)
    return email_document(ctx["title"], ctx["date"], _html_body(ctx, templates), templates)


def email_document(title: str, date: str, body: str, templates: Path | None = None) -> str:
    """A sanitized HTML body in the email's document shell, its stylesheet inlined (every HTML
    email: digests and the web app's confirmation)."""
    doc = render_template("email.html.j2", {"title": title, "date": date, "body": Markup(body)}, templates)
    html: str = _inliner().inline(doc)
    return html if html.endswith("\n") else html + "\n"  # as the MIME part will hold it


def markdown_to_html(md: str) -> str:
    """Markdown to sanitized HTML (python-markdown passes raw HTML through; nh3 removes it)."""
    return sanitize_html(md_lib.markdown(md, output_format="html"))


def check_templates(templates: Path | None, now: datetime | None = None) -> None:
    """Compile a custom template folder and render a sample digest (one full item, and an empty
    digest) through every output, so a broken template is a config error before a run starts."""
    if templates is None:
        return
    from paperdigest.delivery.feeds import entry_html

    compile_all(templates)
    when = now or datetime(2000, 1, 1, tzinfo=timezone.utc)
    paper = Paper(title="A sample paper", abstract="Its abstract.", arxiv_id="2501.00001",
                  url="https://example.org/papers/2501.00001", authors=("A. Author", "B. Author"), upvotes=3,
                  ai_summary="Its summary.")
    item = RankedItem(paper, 2.0, (Match("sample", "title", 2.0),))
    seen = Sightings(first_seen=when, last_seen=when, captures=2, days=2, upvotes=3, gain=1, since="yesterday")
    title_only = RankedItem(Paper(title="A paper listed before its abstract"), 1.0, (Match("sample", "title", 1.0),),
                            sightings=seen, blend=Blend(0.5, 1.0, 0.5, 0.75))
    for items in ((item, title_only), ()):
        view = DigestView(digest_id="sample/2000-01-01", profile_name="sample", profile_title="Sample",
                          date=when.date(), created=when, new_papers=len(items), matched=len(items), items=items,
                          warnings=("A sample warning.",))
        render_markdown(view, templates)
        render_text(view, templates)
        render_html(view, templates)
    entry_html(FeedEntry(guid="sample/1", paper=paper, added=when, score=2.0, matches=item.matches), templates)
