"""Plain data shared by the core: papers, listings, ranked items.

Identity rule: a paper is known by its arXiv id (version suffix stripped) when a source
gives one, else by its folded title. ``Paper.title_key`` is always set, so a paper first
seen as page text (no id) and later through a feed (with id) is recognised as one paper.

A paper needs only a title: listings show papers minutes old, before their abstract exists.
``abstract == ""`` means "not yet available"; a later capture fills it in (see the store).
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
    """One paper as a source gives it. Only ``title`` is always present; an empty ``abstract``
    is one not yet available."""

    title: str
    abstract: str = ""
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
class Sightings:
    """What the store knows of a paper's listings up to one moment (a digest's creation)."""

    first_seen: datetime
    last_seen: datetime
    captures: int  # captures that listed it
    days: int  # distinct days (in the schedule's time zone) on which it was listed
    upvotes: int | None = None  # the latest reading; None when no source gave one
    gain: int | None = None  # upvotes gained since ``since``; None without an earlier reading
    since: str | None = None  # "yesterday", "Feb 3" or "first seen"

    def describe(self) -> str:
        """"listed 3 days · ▲ 120 (+45 since yesterday)": only what is known."""
        parts = [f"listed {self.days} day{'' if self.days == 1 else 's'}"]
        if self.upvotes is not None:
            votes = f"▲ {self.upvotes}"
            if self.gain is not None and self.since:
                votes += f" ({'+' if self.gain >= 0 else '−'}{abs(self.gain)} since {self.since})"
            parts.append(votes)
        return " · ".join(parts)


@dataclass(frozen=True)
class Blend:
    """How momentum moved an item: its rank value is ``(1 - weight) × relevance + weight × momentum``."""

    weight: float  # the profile's ``momentum``
    momentum: float  # 0..1, see ranking.momentum
    relevance: float  # the score over the best score among the items ranked, 0..1
    value: float

    def describe(self) -> str:
        return (f"momentum {self.momentum:.2f} × {self.weight:g} + relevance {self.relevance:.2f} × "
                f"{1 - self.weight:g} = {self.value:.2f}")


@dataclass(frozen=True)
class RankedItem:
    paper: Paper
    score: float
    matches: tuple[Match, ...]
    sightings: Sightings | None = None  # known when ranked from the store
    blend: Blend | None = None  # set when the profile blends momentum into the ranking

    @property
    def matched(self) -> list[str]:
        """The keywords that matched (empty for a paper that entered by meaning alone)."""
        return [m.term for m in self.matches if m.is_keyword]

    def why(self) -> str:
        """The short "why you see this" line every output shows."""
        reasons = "; ".join(m.describe() for m in self.matches)
        return f"{reasons}; ranked on {self.blend.describe()}" if self.blend else reasons


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
    updated: datetime | None = None  # when a later capture last changed the paper (None: never)
    sightings: Sightings | None = None  # as shown when the paper entered the digest

    @property
    def last_change(self) -> datetime:
        """The entry's ``updated`` date: when it was added, or when its paper changed since."""
        return self.updated if self.updated is not None and self.updated > self.added else self.added
