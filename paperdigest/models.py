"""Plain data shared by the core: papers, listings, ranked items.

Identity rule: a paper is known by its arXiv id (version suffix stripped) when a source
gives one, else by its folded title. ``Paper.title_key`` is always set, so a paper first
seen as page text (no id) and later through a feed (with id) is recognised as one paper.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

_ARXIV_RE = re.compile(r"(?<![\w.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\w.])")
_OLD_ARXIV_RE = re.compile(r"\b([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?\b")
_FOLD_RE = re.compile(r"[\W_]+")


def fold_title(title: str) -> str:
    """Fold case, accents, whitespace and punctuation: the title part of a paper's identity."""
    if title.isascii():  # nothing to decompose: the per-character pass was most of the cost
        text = title
    else:
        text = unicodedata.normalize("NFKD", title)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold()
    text = _FOLD_RE.sub(" ", text)
    return " ".join(text.split())


def normalize_arxiv_id(value: str | None) -> str | None:
    """Return the bare arXiv id (``2502.01234``) from an id or URL, version stripped; else None."""
    if not value:
        return None
    m = _ARXIV_RE.search(value)
    if m:
        return m.group(1)
    m = _OLD_ARXIV_RE.search(value)
    if m:
        return m.group(1)
    return None


@dataclass(frozen=True)
class Paper:
    """One paper as a source gives it. Only ``title`` and ``abstract`` are always present."""

    title: str
    abstract: str
    arxiv_id: str | None = None
    url: str | None = None
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    upvotes: int | None = None
    ai_summary: str | None = None

    @property
    def title_key(self) -> str:
        return fold_title(self.title)

    @property
    def key(self) -> str:
        """The identity used inside one listing (the store adds a stable uid on first sight)."""
        return f"arxiv:{self.arxiv_id}" if self.arxiv_id else f"title:{self.title_key}"


@dataclass
class Listing:
    """What one input held: its papers (deduplicated, in page order) and what was noticed."""

    papers: list[Paper]
    date: date | None = None
    format: str = "text"
    warnings: list[str] = field(default_factory=list)
    # Parse problems that did not stop the listing (a cut-off last paper, a stray title).
    problems: list[str] = field(default_factory=list)
    # True when the capture looks broken (a sentinel item, for instance).
    broken: bool = False


@dataclass(frozen=True)
class Match:
    """Why a paper is in a digest: one keyword, where it matched, what it contributed; or, with
    ``where`` "meaning", how close the paper is to what the reader described or liked."""

    term: str
    where: str  # "title", "abstract", "title+abstract", or "meaning" (then ``term`` says it in words)
    contribution: float

    @property
    def is_keyword(self) -> bool:
        return self.where != "meaning"

    def describe(self) -> str:
        if not self.is_keyword:
            return f"{self.term} (+{self.contribution:.2f})"
        return f"{self.term} ({self.where}, +{self.contribution:.2f})"


@dataclass(frozen=True)
class RankedItem:
    paper: Paper
    score: float
    matches: tuple[Match, ...]

    @property
    def matched(self) -> list[str]:
        """The keywords that matched (empty for a paper that entered by meaning alone)."""
        return [m.term for m in self.matches if m.is_keyword]

    def why(self) -> str:
        """The short "why you see this" line every output shows."""
        return "; ".join(m.describe() for m in self.matches)


@dataclass(frozen=True)
class DigestView:
    """Everything a renderer needs for one profile's digest; built from the store, so that a
    digest re-rendered after a crash is byte-for-byte the same."""

    digest_id: str  # stable: "<profile>/<YYYY-MM-DD>" or "<profile>/<YYYY-MM-DD>-<n>"
    profile_name: str
    profile_title: str
    date: date
    created: datetime  # timezone-aware; the email's Date header
    new_papers: int  # papers this profile had not considered before this run
    matched: int  # of those, how many passed the profile's filters (before max_items)
    items: tuple[RankedItem, ...]
    warnings: tuple[str, ...] = ()  # e.g. a suspiciously short capture

    @property
    def empty_reason(self) -> str | None:
        if self.items:
            return None
        if self.new_papers == 0:
            return "There were no new papers since the last digest."
        return f"None of the {self.new_papers} new papers matched this profile's keywords."


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed: a paper as it entered a profile's digest (or the all-papers feed)."""

    guid: str  # derived from profile and paper identity; never changes
    paper: Paper
    added: datetime  # timezone-aware: when the paper entered the digest
    score: float | None = None
    matches: tuple[Match, ...] = ()
