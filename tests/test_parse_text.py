"""The page-text layout: shared snapshots, invented listings in both layouts, damage."""

from __future__ import annotations

import codecs
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from paperdigest.errors import ParseError
from paperdigest.models import Paper
from paperdigest.sources.parse import decode_text, parse_listing
from paperdigest.sources.pagetext import infer_date, looks_cut

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
SNAPSHOTS = sorted((SHARED / "snapshots").glob("*.txt"))
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "parse"
UTC = timezone.utc


def parse(data: bytes, name: str = "in.txt", **kw: object) -> object:
    return parse_listing(data, name=name, **kw)  # type: ignore[arg-type]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def content_lines(data: bytes) -> list[str]:
    return [line for line in decode_text(data).split("\n") if line.strip()]


def assert_parse_error(data: bytes, fragment: str, **kw: object) -> str:
    with pytest.raises(ParseError) as info:
        parse_listing(data, name="input-7.txt", **kw)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("input-7.txt: ")
    assert fragment in message, message
    return message


# --------------------------------------------------------------------------- shared snapshots


def test_three_snapshots_hold_78_85_119_distinct_papers() -> None:
    assert [p.name[:3] for p in SNAPSHOTS] == ["000", "001", "002"]
    captured = datetime(2025, 3, 15, 8, 0, tzinfo=UTC)
    listings = [parse_listing(p.read_bytes(), name=p.name, captured=captured) for p in SNAPSHOTS]
    assert [len({p.key for p in L.papers}) for L in listings] == [78, 85, 119]
    assert [len(L.papers) for L in listings] == [78, 85, 119]
    for L in listings:
        assert L.format == "text" and not L.problems and not L.warnings and not L.broken
        assert all(p.title and len(p.abstract) > 300 for p in L.papers)
    assert [L.date for L in listings] == [date(2025, 3, 11), date(2025, 3, 14), None]
    # The packed layout's glued chrome is gone from the first title.
    assert not listings[2].papers[0].title.startswith("Subscribe")
    # Papers recur across snapshots with identical text; new ones per snapshot: 78, 66, 108.
    known: dict[str, object] = {}
    new_counts = []
    for L in listings:
        new = 0
        for p in L.papers:
            if p.key in known:
                assert known[p.key] == p
            else:
                known[p.key] = p
                new += 1
        new_counts.append(new)
    assert new_counts == [78, 66, 108]


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.name[:3])
def test_crlf_bom_copies_give_identical_papers(path: Path) -> None:
    data = path.read_bytes()
    plain = parse_listing(data, name=path.name).papers
    crlf = codecs.BOM_UTF8 + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert parse_listing(crlf, name=path.name).papers == plain
    assert parse_listing(data.replace(b"\n", b"\r"), name=path.name).papers == plain


def test_snapshot_titles_and_abstracts_are_the_file_lines() -> None:
    data = SNAPSHOTS[0].read_bytes()
    lines = content_lines(data)
    papers = parse_listing(data, name="s").papers
    assert [p.title for p in papers] == lines[5::2]
    assert [p.abstract for p in papers] == lines[6::2]


# --------------------------------------------------------------------------- invented listings


def test_blank_line_layout_fixture() -> None:
    data = fixture("blank_layout.txt")
    L = parse_listing(data, name="blank", captured=datetime(2025, 6, 4, 6, 0, tzinfo=UTC))
    assert len(L.papers) == 7 and not L.problems and not L.warnings
    assert L.date == date(2025, 6, 3)
    lines = content_lines(data)
    assert [p.title for p in L.papers] == lines[5::2]
    assert [p.abstract for p in L.papers] == lines[6::2]
    # A title starting with "Subscribe…" keeps it in the blank-line layout.
    assert L.papers[0].title.startswith("Subscriber Churn")
    assert L.papers[1].abstract.endswith("https://example.org/lattice-gardens")
    assert "<STOP>" in L.papers[4].abstract and "x<y" in L.papers[4].abstract
    assert L.papers[3].title.startswith("Café-Bench: Évaluer")


def test_packed_layout_fixture() -> None:
    data = fixture("packed_layout.txt")
    L = parse_listing(data, name="packed", captured=datetime(2025, 6, 4, tzinfo=UTC))
    assert len(L.papers) == 7 and not L.problems and not L.warnings
    assert L.date is None
    assert L.papers[0].title == "Quiet Gradients: Detecting Label Noise from Optimizer State"
    lines = content_lines(data)
    assert [p.abstract for p in L.papers] == lines[3::2]
    assert [p.title for p in L.papers][1:] == lines[4::2]


@pytest.mark.parametrize("name", ["blank_layout.txt", "packed_layout.txt"])
def test_line_ends_bom_and_cp1252_do_not_change_papers(name: str) -> None:
    data = fixture(name)
    plain = parse_listing(data, name=name).papers
    text = data.decode("utf-8")
    variants = [
        codecs.BOM_UTF8 + data.replace(b"\n", b"\r\n"),
        data.replace(b"\n", b"\r"),
        text.encode("cp1252", errors="strict") if name == "blank_layout.txt" else data,
        codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    ]
    for variant in variants:
        assert parse_listing(variant, name=name).papers == plain


def test_undecodable_bytes_do_not_stop_the_listing() -> None:
    data = fixture("blank_layout.txt")
    # A stray latin-1 byte inside an abstract of an otherwise UTF-8 file.
    damaged = data.replace(b"sizeable share", b"sizeable\xa0share", 1)
    L = parse_listing(damaged, name="d")
    assert len(L.papers) == 7
    assert "\ufffd" in L.papers[0].abstract
    assert L.papers[3].title.startswith("Café-Bench")  # the rest stays UTF-8


def test_glued_subscribe_is_stripped_only_from_the_first_title() -> None:
    data = fixture("packed_layout.txt").replace(
        b"Federated Fine-Tuning", b"SubscribeFederated Fine-Tuning"
    )
    titles = [p.title for p in parse_listing(data, name="p").papers]
    assert titles[0].startswith("Quiet Gradients")
    assert titles[-1].startswith("SubscribeFederated")


def test_duplicate_inside_one_listing_is_dropped_with_a_warning() -> None:
    lines = content_lines(fixture("packed_layout.txt"))
    data = "\n".join(lines + lines[4:6]).encode()  # the second paper again, at the end
    L = parse_listing(data, name="dup")
    assert len(L.papers) == 7
    assert len(L.problems) == 1 and "repeats paper 2" in L.problems[0], L.problems
    # Case, accents and punctuation do not make a different paper.
    variant = "\n".join(lines + [lines[4].upper().replace(":", " -"), lines[5]]).encode()
    assert len(parse_listing(variant, name="dup").papers) == 7


# --------------------------------------------------------------------------- resynchronisation


def test_title_without_abstract_in_the_middle_is_a_title_only_paper_and_neighbours_survive() -> None:
    lines = content_lines(fixture("blank_layout.txt"))
    # Drop the abstract of the third paper (content line 10: header is 5 lines).
    stray_title = lines[9]
    damaged = "\n\n".join(lines[:10] + lines[11:]).encode()
    L = parse_listing(damaged, name="stray")
    full = parse_listing(fixture("blank_layout.txt"), name="full").papers
    assert L.papers == full[:2] + [Paper(title=stray_title)] + full[3:]
    assert not L.problems and len(L.warnings) == 1
    assert L.warnings[0].startswith("paper 3 (line ")
    assert stray_title[:30] in L.warnings[0] and L.warnings[0].endswith("has no abstract yet: kept with its title")


def test_title_alone_before_the_first_or_after_the_last_paper_is_reported() -> None:
    lines = content_lines(fixture("blank_layout.txt"))
    lone = "A Heading Nobody Can Tell From Page Chrome"
    full = parse_listing(fixture("blank_layout.txt"), name="full").papers
    for damaged in (lines[:5] + [lone] + lines[5:], lines + [lone]):
        L = parse_listing("\n\n".join(damaged).encode(), name="edge")
        assert L.papers == full and len(L.problems) == 1 and lone[:30] in L.problems[0]
    # A sentence alone between papers reads as a stray piece of an abstract: reported too.
    sentence = "We show that this works."
    L = parse_listing("\n\n".join(lines[:7] + [sentence] + lines[7:]).encode(), name="sentence")
    assert L.papers == full and len(L.problems) == 1 and "has no abstract: skipped" in L.problems[0]


def test_abstract_without_title_is_skipped_in_packed_layout() -> None:
    lines = content_lines(fixture("packed_layout.txt"))
    damaged = "\n".join(lines[:6] + lines[7:]).encode()  # the fourth title is gone
    L = parse_listing(damaged, name="orphan")
    full = parse_listing(fixture("packed_layout.txt"), name="full").papers
    assert L.papers == full[:2] + full[3:]
    assert len(L.problems) == 1 and "text without a title" in L.problems[0]


def test_two_titles_alone_in_a_row() -> None:
    lines = content_lines(fixture("packed_layout.txt"))
    extra = ["An Orphaned Heading With No Abstract", "Another Orphaned Heading: Part Two"]
    damaged = "\n".join(lines[:6] + extra + lines[6:]).encode()
    L = parse_listing(damaged, name="two")
    assert len(L.papers) == 9 and not L.problems
    assert [p.title for p in L.papers if not p.abstract] == extra
    assert [w.split(" '")[0] for w in L.warnings] == ["paper 3 (line 7)", "paper 4 (line 8)"]


def test_cut_mid_abstract_keeps_the_papers_before_and_reports_the_cut_one() -> None:
    data = fixture("blank_layout.txt")
    full = parse_listing(data, name="full").papers
    text = data.decode("utf-8")
    checked = 0
    for k, paper in enumerate(full):
        start = text.index(paper.abstract)
        # Several mid-sentence cut points (after a word, not after a full stop or a URL).
        for frac in (0.1, 0.5, 0.9):
            cut = text.index(" ", start + int(len(paper.abstract) * frac))
            if text[cut - 1] in ".!?)" or k == 0:  # k == 0: see test_a_single_cut_paper…
                continue
            L = parse_listing(text[:cut].encode(), name="cut")
            assert L.papers == full[:k], (k, frac)
            assert any("cut" in p and paper.title[:20] in p for p in L.problems), L.problems
            checked += 1
    assert checked >= 15


def test_cut_mid_title_or_after_a_title() -> None:
    data = fixture("packed_layout.txt")
    text = data.decode("utf-8")
    full = parse_listing(data, name="full").papers
    title = full[4].title
    for cut in (text.index(title) + 12, text.index(title) + len(title) + 1):
        L = parse_listing(text[:cut].encode(), name="cut")
        assert L.papers == full[:4]
        assert len(L.problems) == 1 and "after the last complete paper" in L.problems[0]


def test_cut_inside_a_multibyte_character_at_the_end() -> None:
    data = fixture("packed_layout.txt")
    cut = data.index("ÆON halves".encode()) + 1  # inside the two bytes of "Æ"
    L = parse_listing(data[:cut], name="cut")
    assert len(L.papers) == 3
    assert L.problems and "cut mid-abstract" in L.problems[0]


def test_complete_last_papers_of_real_files_are_not_taken_for_cut() -> None:
    for path in SNAPSHOTS:
        text = path.read_text(encoding="utf-8")
        assert not looks_cut(content_lines(text.encode())[-1])
    assert not looks_cut("We release the code at https://example.org/x/y")
    assert not looks_cut("Results hold across all settings (see appendix)")
    assert looks_cut("We propose a method that")
    assert looks_cut("Code is available at https://gith")  # no host yet
    assert looks_cut("Demos at \\url{https://example.org/dem")  # an unclosed brace
    assert looks_cut("We improve accuracy by 2.5")
    assert looks_cut("The model reaches 93% accuracy on,")


# --------------------------------------------------------------------------- refusals


def test_empty_and_blank_inputs() -> None:
    assert_parse_error(b"", "empty input")
    assert_parse_error(b" \r\n\n\t ", "empty input")
    assert_parse_error(codecs.BOM_UTF8 + b"\r\n", "empty input", format="text")


def test_chrome_only() -> None:
    data = b"new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nbyAK and the research community\n\nMar 11\n"
    assert_parse_error(data, "page chrome only")
    assert_parse_error(data.replace(b"\n\n", b"\r\n"), "page chrome only", format="text")


def test_binary_and_random_bytes() -> None:
    import random

    rnd = random.Random(7)
    noise = bytes(rnd.randrange(256) for _ in range(5000))
    assert_parse_error(noise, "binary data", format="text")
    assert_parse_error(noise, "binary data")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
    assert_parse_error(png, "binary data")


def test_html_error_page() -> None:
    page = (
        b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>\n"
        b"<h1>Bad Gateway</h1>\n<p>The server encountered a temporary error and could not "
        b"complete your request. Please try again in 30 seconds, or contact the site "
        b"administrator if the problem persists for a long time.</p>\n</body></html>\n"
    )
    assert_parse_error(page, "HTML page without a paper list (an error page?)")
    assert_parse_error(page, "HTML page without a paper list", content_type="text/html")
    assert_parse_error(page, "markup, not page text", format="text")
    assert_parse_error(page, "HTML page without a paper list", content_type="text/plain")


def test_lines_without_any_pairing() -> None:
    data = b"Alpha heading\nBeta heading\nGamma heading\nDelta heading\n"
    assert_parse_error(data, "none a title followed by an abstract")


def test_a_single_cut_paper_is_an_error() -> None:
    lines = content_lines(fixture("packed_layout.txt"))
    data = "\n".join(lines[:3] + [lines[3][:200]]).encode()
    assert_parse_error(data, "no complete paper found")


# --------------------------------------------------------------------------- page date


@pytest.mark.parametrize(
    ("line", "captured", "expected"),
    [
        ("Mar 11", datetime(2025, 3, 12, 7, tzinfo=UTC), date(2025, 3, 11)),
        ("Mar 11", datetime(2025, 3, 9, tzinfo=UTC), date(2025, 3, 11)),  # a few days ahead
        ("Mar 11", datetime(2025, 3, 2, tzinfo=UTC), date(2024, 3, 11)),  # too far ahead
        ("Dec 31", datetime(2026, 1, 2, tzinfo=UTC), date(2025, 12, 31)),
        ("Jan 2", datetime(2025, 12, 31, tzinfo=UTC), date(2026, 1, 2)),
        ("Feb 29", datetime(2025, 3, 1, tzinfo=UTC), date(2024, 2, 29)),
        ("September 5", datetime(2024, 9, 6, tzinfo=UTC), date(2024, 9, 5)),
        ("Mar 11, 2023", datetime(2025, 3, 12, tzinfo=UTC), date(2023, 3, 11)),
        ("Mar 11", None, None),
    ],
)
def test_page_date_inference(line: str, captured: datetime | None, expected: date | None) -> None:
    lines = content_lines(fixture("blank_layout.txt"))
    data = "\n\n".join(lines[:4] + [line] + lines[5:]).encode()
    L = parse_listing(data, name="d", captured=captured)
    assert L.date == expected
    assert len(L.papers) == 7


def test_infer_date_edges() -> None:
    assert infer_date(2, 30, None, datetime(2025, 3, 1, tzinfo=UTC)) is None
    assert infer_date(2, 29, 2025, None) is None
    assert infer_date(6, 3, 2025, None) == date(2025, 6, 3)


# --------------------------------------------------------------------------- speed


def test_twenty_thousand_papers_parse_in_linear_time() -> None:
    import random
    import time

    rnd = random.Random(3)
    vocab = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 10))) for _ in range(3000)]

    def listing(n: int) -> bytes:
        out = ["Get trending papers in your email inbox!"]
        for i in range(n):
            out.append(f"Paper {i} " + " ".join(rnd.choice(vocab).title() for _ in range(rnd.randint(5, 13))))
            words = [rnd.choice(vocab) for _ in range(rnd.randint(120, 220))]
            out.append(". ".join(" ".join(words[j : j + 15]).capitalize() for j in range(0, len(words), 15)) + ".")
        return "\n".join(out).encode()

    small, big = listing(2000), listing(20000)
    t0 = time.perf_counter()
    assert len(parse_listing(small, name="small").papers) == 2000
    t1 = time.perf_counter()
    assert len(parse_listing(big, name="big").papers) == 20000
    t2 = time.perf_counter()
    # Linear, not quadratic: ten times the papers costs well under 30 times the time.
    assert (t2 - t1) < 30 * (t1 - t0) + 0.5
    assert t2 - t1 < 5.0  # generous for a loaded CI machine; ~0.4 s measured
