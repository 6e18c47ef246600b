"""Parse a listing page saved as text: a title line, then its abstract line, repeated.

Two layouts occur: blank-line separated with a chrome header ("new", "Subscribe", a date
line such as "Mar 11"), and packed (no blank lines, no date, "Subscribe" glued to the first
title). Blank lines carry no meaning here, so both layouts go through one path.

Each line is scored for how title-like and how abstract-like it is; a linear dynamic
programme then pairs lines (title, abstract) for the best total, a skipped line costing a
little. One stray line therefore costs only itself: an abstract without its title is reported
in ``Listing.problems`` while its neighbours survive. A title without its abstract between two
papers is a paper listed before its abstract exists, and is kept by its title.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from paperdigest.errors import ParseError
from paperdigest.models import Listing, Paper

# Header/footer chrome of the listing page; compared case-folded, whole line.
_CHROME_RE = re.compile(
    r"(?:new|subscribe|by\s*ak and the research community"
    r"|get trending papers in your email inbox(?: once a day)?!?)",
    re.IGNORECASE,
)
_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_DATE_RE = re.compile(
    r"([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?", re.IGNORECASE
)
_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# "Subscribe" glued to the first title in the packed layout: "SubscribeZipfian Whitening".
_GLUED_SUBSCRIBE_RE = re.compile(r"Subscribe(?=[^a-z\s])")
# Control characters (tab, LF, CR excluded) and U+FFFD: their share tells binary from text.
_CTRL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_MARKUP_START_RE = re.compile(
    r"\s*<(?:!doctype|html|head|body|\?xml|rss|feed|rdf:rdf)\b", re.IGNORECASE
)
_SENTENCE_BREAK_RE = re.compile(r"[.!?] [A-Z]")
_LETTER_RE = re.compile(r"[^\W\d_]")
# An abstract may end in a URL without a final full stop: host.with.dots[/path].
_URL_END_RE = re.compile(r"[\w-]+(?:\.[\w-]+)+(?::\d+)?(/\S*)?$")
_TERMINAL = frozenset(".!?)]}\"'”’»…")

# Scores: a pair needs both parts positive; a skipped line costs _SKIP.
_SKIP = -1.0
_BAD = -5.0
# A title line standing alone between two complete papers is a paper whose abstract is not
# yet available, when it reads as a title throughout (at least 4 characters, no final full
# stop: a sentence is more likely a stray piece of an abstract). Alone before the first
# paper or after the last, it cannot be told from page chrome or a cut, and is reported.
_TITLE_ALONE = 2.5
# Characters checked for binary content: all of a normal listing, head and tail of a huge one.
_SAMPLE = 2_000_000


def clip(text: str, limit: int = 60) -> str:
    """Shorten a title for a one-line message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _title_score(s: str) -> float:
    n = len(s)
    if n > 300 or s.count(" ") >= 40 or not _LETTER_RE.search(s):
        return _BAD
    if s[0] == "<" and s[-1] == ">":
        return _BAD  # a markup line
    score = 3.0 if n <= 160 else 2.5
    if n < 4:
        score -= 2.0
    if s.endswith(".") and not s.endswith("..."):
        # A full stop ends sentences, rarely titles ("… vs."): less title-like, still possible.
        score -= 1.0
        if _SENTENCE_BREAK_RE.search(s):
            score -= 1.0
    return score


def _abstract_score(s: str) -> float:
    n = len(s)
    words = s.count(" ") + 1
    if n < 100 or words < 15 or not 3.0 <= n / words <= 20.0:
        return _BAD
    if s[0] == "<" and s[-1] == ">":
        return _BAD  # a markup line (special tokens like <RET> inside abstracts are fine)
    score = 1.0
    if n >= 300:
        score += 2.0
    if n >= 600:
        score += 1.0
    if s[-1] in _TERMINAL:
        score += 0.5
    if _SENTENCE_BREAK_RE.search(s):
        score += 0.5
    return score


def looks_cut(abstract: str) -> bool:
    """True when an abstract ends mid-sentence: no closing punctuation, and no complete URL.

    Real abstracts end with a full stop, a bracket or a URL ("…at https://host.org/x").
    A URL cut before its host's dot, or an unclosed bracket, counts as cut; a URL cut
    after it cannot be told from a whole one. One real abstract in a hundred ends with a
    bare word: that one, if it is the last of a listing, is reported as cut.
    """
    s = abstract.rstrip()
    if not s:
        return True
    if s[-1] in _TERMINAL:
        return False
    token = s.rsplit(None, 1)[-1]
    if any(token.count(a) > token.count(b) for a, b in ("()", "[]", "{}")):
        return True
    m = _URL_END_RE.search(token)
    return not (m and ("://" in token or "www." in token or m.group(1)))


def _month(word: str) -> int | None:
    w = word.lower().rstrip(".")
    if len(w) < 3:
        return None
    for i, full in enumerate(_MONTH_NAMES):
        if full.startswith(w) or (w == "sept" and i == 8):
            return i + 1
    return None


def infer_date(month: int, day: int, year: int | None, captured: datetime | None) -> date | None:
    """The page date; a year-less "Mar 11" takes the year that puts it closest to the capture
    time and not more than three days after it. Without a capture time no year is guessed
    (None): the caller knows when it captured, the parser does not read the clock."""
    if year is not None:
        try:
            return date(year, month, day)
        except ValueError:
            return None
    if captured is None:
        return None
    ref = captured.date()
    best: date | None = None
    for y in (ref.year - 1, ref.year, ref.year + 1):
        try:
            d = date(y, month, day)
        except ValueError:
            continue
        if d > ref + timedelta(days=3):
            continue
        if best is None or abs((d - ref).days) < abs((best - ref).days):
            best = d
    return best


def parse_date_line(line: str, captured: datetime | None) -> tuple[bool, date | None]:
    """(is a date line, the date it gives)."""
    if len(line) > 20:
        return False, None
    m = _ISO_DATE_RE.fullmatch(line)
    if m:
        return True, infer_date(int(m.group(2)), int(m.group(3)), int(m.group(1)), captured)
    m = _DATE_RE.fullmatch(line)
    if not m:
        return False, None
    month = _month(m.group(1))
    day = int(m.group(2))
    if month is None or not 1 <= day <= 31:
        return False, None
    year = int(m.group(3)) if m.group(3) else None
    return True, infer_date(month, day, year, captured)


def _norm(s: str) -> str:
    if "  " in s or "\t" in s or "\xa0" in s:
        return " ".join(s.split())
    return s


def check_plain_text(text: str, name: str) -> None:
    """Refuse what is not page text at all: empty, binary, markup, JSON."""
    stripped = text.strip()
    if not stripped:
        raise ParseError(f"{name}: empty input")
    # Binary input is binary throughout: for a big input its head and tail tell (and a
    # binary stretch elsewhere has no word-like lines, so it cannot pass for a paper).
    sample = text if len(text) <= _SAMPLE else text[: _SAMPLE // 2] + text[-_SAMPLE // 2 :]
    bad = len(_CTRL_RE.findall(sample))
    if bad > 2 + len(sample) // 100:
        raise ParseError(f"{name}: binary data, not a listing ({bad} control or undecodable characters)")
    if _MARKUP_START_RE.match(stripped[:200]):
        raise ParseError(f"{name}: markup, not page text (an HTML error page?)")
    if stripped[0] in "{[" and stripped[1:].lstrip()[:1] in ('"', "{", "[", "]", "}"):
        raise ParseError(f"{name}: JSON, not page text")


def no_abstract_yet(label: str, title: str) -> str:
    """The note a parser leaves for a paper listed before its abstract exists (it is kept)."""
    return f"{label} '{clip(title)}' has no abstract yet: kept with its title"


def add_paper(listing: Listing, seen: dict[str, int], paper: Paper, label: str) -> None:
    """Append unless a paper with the same key is already listed (then a problem). A repeat that
    brings the abstract the first listing lacked replaces it, so the abstract is not lost."""
    key = paper.key
    first = seen.get(key)
    if first is not None:
        other = listing.papers[first]
        if not other.abstract and paper.abstract:
            listing.papers[first] = paper
            listing.problems.append(f"{label} '{clip(paper.title)}' repeats paper {first + 1}, "
                                    "which had no abstract: kept with this one's")
            return
        diff = "" if other.abstract == paper.abstract else " (with a different abstract)"
        listing.problems.append(
            f"{label} '{clip(paper.title)}' repeats paper {first + 1}{diff}: dropped"
        )
        return
    seen[key] = len(listing.papers)
    listing.papers.append(paper)


def parse_text(text: str, *, name: str, captured: datetime | None = None) -> Listing:
    """Parse page text (already decoded, LF line ends) into a listing."""
    check_plain_text(text, name)
    listing = Listing(papers=[], format="text")

    # Content lines with their 1-based line numbers; chrome dropped, the header's date kept.
    numbers: list[int] = []
    lines: list[str] = []
    header = True
    header_chrome = False
    standalone_subscribe = False
    for no, raw in enumerate(text.split("\n"), 1):
        s = raw.strip()
        if not s:
            continue
        if len(s) <= 60:
            if _CHROME_RE.fullmatch(s):
                header_chrome = True
                standalone_subscribe = standalone_subscribe or s.lower() == "subscribe"
                continue
            is_date, d = parse_date_line(s, captured)
            if is_date:
                if listing.date is None and d is not None:
                    listing.date = d
                header_chrome = True
                continue
        if header:
            header = False
            if header_chrome and not standalone_subscribe and _GLUED_SUBSCRIBE_RE.match(s):
                s = s[len("Subscribe") :].lstrip()
        numbers.append(no)
        lines.append(_norm(s))

    n = len(lines)
    if n == 0:
        raise ParseError(f"{name}: no paper found (page chrome only)")
    ts = [_title_score(s) for s in lines]
    ab = [_abstract_score(s) for s in lines]

    # best[i]: best score for lines[i:]; take[i]: lines i, i+1 form a paper.
    best = [0.0] * (n + 2)
    take = [False] * n
    for i in range(n - 1, -1, -1):
        value = best[i + 1] + _SKIP
        if i + 1 < n and ts[i] > 0 and ab[i + 1] > 0:
            paired = best[i + 2] + ts[i] + ab[i + 1]
            if paired >= value:
                value = paired
                take[i] = True
        best[i] = value

    # Walk the chosen path: pairs become papers, skipped lines become problems.
    pairs: list[tuple[int, int]] = []  # (index of the title line, paper number)
    skipped: list[tuple[int, int]] = []  # (line index, paper number; 0 for a stray abstract)
    number = 0
    i = 0
    while i < n:
        if take[i]:
            number += 1
            pairs.append((i, number))
            i += 2
        else:
            if ts[i] >= ab[i]:
                number += 1
                skipped.append((i, number))
            else:
                skipped.append((i, 0))
            i += 1

    if not pairs:
        raise ParseError(
            f"{name}: no paper found: {n} text lines, none a title followed by an abstract"
        )

    first_i, (last_i, last_no) = pairs[0][0], pairs[-1]
    alone: set[int] = set()  # title lines kept as papers whose abstract is not yet available
    for i, no in skipped:
        if first_i < i < last_i and no and ts[i] >= _TITLE_ALONE:
            alone.add(i)
            listing.warnings.append(no_abstract_yet(f"paper {no} (line {numbers[i]})", lines[i]))
        elif i < last_i:
            listing.problems.append(_skip_message(i, no, lines, numbers))
    # The tail: lines after the last paper, or a last abstract ending mid-sentence.
    tail = [i for i, _ in skipped if i > last_i]
    if tail:
        more = f" and {len(tail) - 1} more line(s)" if len(tail) > 1 else ""
        listing.problems.append(
            f"line {numbers[tail[0]]} '{clip(lines[tail[0]])}'{more} after the last complete"
            " paper (cut input or page footer?): skipped"
        )
    elif looks_cut(lines[last_i + 1]):
        pairs.pop()
        listing.problems.append(
            f"the last paper {last_no} (line {numbers[last_i]}) '{clip(lines[last_i])}'"
            " is cut mid-abstract: skipped"
        )

    seen: dict[str, int] = {}
    numbered = sorted(pairs + [(i, no) for i, no in skipped if i in alone])
    for i, no in numbered:
        paper = Paper(title=lines[i], abstract="" if i in alone else lines[i + 1])
        add_paper(listing, seen, paper, f"paper {no} (line {numbers[i]})")
    if not listing.papers:
        raise ParseError(f"{name}: no complete paper found: {'; '.join(listing.problems)}")
    return listing


def _skip_message(i: int, no: int, lines: list[str], numbers: list[int]) -> str:
    if no:
        return f"paper {no} (line {numbers[i]}) '{clip(lines[i])}' has no abstract: skipped"
    return f"line {numbers[i]}: text without a title '{clip(lines[i])}': skipped"
