"""``paperdigest suggest`` on a small hand-made store of invented papers: the term that sets the
reader's papers apart comes first, with the papers it would have added; covered, generic and
function-word terms do not come at all."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperdigest.cli import main
from paperdigest.config import load_config
from paperdigest.models import Listing, Match, Paper, RankedItem
from paperdigest.ranking.suggest import STOPWORDS, offer_weight
from paperdigest.store import Store

from .conftest import NOW

PROFILE = '''
[[profile]]
name = "drafts"
title = "Faster generation"
keywords = { "quantization" = 3 }
liked = ["Drafting Tokens Ahead: Speculative Decoding for Chat", "arXiv:2502.00002v3", "A Paper Nobody Stored"]
'''

LIKED = [
    Paper("Drafting Tokens Ahead: Speculative Decoding for Chat",
          "We study speculative decoding for chat assistants. A small draft model proposes tokens and the large "
          "model checks them; the acceptance rate of the draft model decides the speed-up.", arxiv_id="2502.00001"),
    Paper("Tree Drafts for Faster Generation",
          "Speculative decoding with a tree of drafts raises the acceptance rate. We propose a draft model that "
          "branches, and show that results improve on long answers.", arxiv_id="2502.00002"),
]
GIVEN = [  # in the profile's digest already
    Paper("Four-Bit Quantization Meets Speculative Decoding",
          "We combine quantization with speculative decoding and measure the acceptance rate of a quantized "
          "draft model. Results show the two savings add up.", arxiv_id="2502.00003"),
]
WOULD_ADD = [  # not given to the profile, and about the reader's interest
    Paper(f"Speculative Decoding on Phones, Part {i}",
          f"We run speculative decoding on a phone with a small draft model (setting {i}). Results show lower "
          "latency than plain sampling.", arxiv_id=f"2502.0010{i}")
    for i in range(3)
]
TOPICS = ["herbarium sheets", "protein folding", "robot grasping", "river sediment", "bird song", "crop yield",
          "galaxy spectra", "traffic flow", "glacier melt", "coral reefs"]


def background() -> list[Paper]:
    """Thirty papers on other topics, in the generic prose every abstract shares."""
    return [Paper(f"Learning {topic.title()} at Scale, Study {k}",
                  f"We propose a method for {topic}. We show that our approach improves results over the state of "
                  f"the art on {topic} benchmarks, and we release code and data.", arxiv_id=f"2501.{k:02d}{j:03d}")
            for k in range(3) for j, topic in enumerate(TOPICS)]


@pytest.fixture
def config_path(make_config, tmp_path: Path) -> Path:
    path = make_config(PROFILE)
    config = load_config(path)
    with Store(config.store_url) as store:
        # the background first, then the reader's papers, then the ones a term would add (newest)
        for n, papers in enumerate((background(), LIKED + GIVEN, WOULD_ADD)):
            store.ingest(Listing(papers), source="hand", hash_=f"h{n}", captured=None, now=NOW + timedelta(hours=n))
        ids = {p.title: pid for pid, p in store.papers_after(0)}
        given = GIVEN + [background()[0]]  # a digest also holds a paper off the reader's interest
        store.create_digest(profile="drafts", profile_title="Faster generation", expected_cursor=None,
                            new_cursor=max(ids.values()), day=NOW.date(), now=NOW, new_papers=len(ids), matched=2,
                            items=[(ids[p.title], RankedItem(p, 1.0, (Match("quantization", "title", 1.0),)))
                                   for p in given], recipients=[])
    return path


def suggest(*args: str) -> object:
    return CliRunner().invoke(main, ["suggest", *args], catch_exceptions=False)


def test_the_distinguishing_phrase_comes_first_with_the_papers_it_would_add(config_path: Path) -> None:
    result = suggest("--config", str(config_path), "--profile", "drafts", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["profile"] == "drafts" and data["kept"] == 4  # two liked, two digest items (top 10)
    assert data["compared"] == 32  # 30 background + 3 to add - the one in the digest
    assert data["liked_not_found"] == ["A Paper Nobody Stored"]
    assert 'liked paper not in the store: A Paper Nobody Stored' in result.stderr
    terms = [s["term"] for s in data["suggestions"]]
    by_term = {s["term"]: s for s in data["suggestions"]}
    # a phrase only the reader's papers use comes first; it would have added nothing yet
    assert terms[0] == "acceptance rate" and by_term["acceptance rate"]["support"] == 3
    assert by_term["acceptance rate"]["would_add"] == [] and by_term["acceptance rate"]["would_add_count"] == 0
    # the reader's topic, with the three papers it would have added, newest first
    topic = by_term["speculative decoding"]
    assert topic["support"] == 3 and topic["would_add_count"] == 3
    assert topic["would_add"] == [{"title": p.title, "arxiv_id": p.arxiv_id} for p in reversed(WOULD_ADD)]
    assert "draft model" in terms
    scores = [s["score"] for s in data["suggestions"]]
    assert scores == sorted(scores, reverse=True) and min(scores) > 0
    for term in terms:
        words = term.split()
        assert words[0] not in STOPWORDS and words[-1] not in STOPWORDS
        assert "quantiz" not in term  # the profile's own keyword covers it
        assert not {"we", "propose", "results", "show", "method"} & set(words)  # everyone's words
    # overlapping terms of a better suggestion are not repeated
    assert "speculative" not in terms and "decoding" not in terms and "speculative decoding for" not in terms


def test_human_output_names_terms_and_papers(config_path: Path) -> None:
    result = suggest("--config", str(config_path), "--profile", "drafts")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == 'Keywords "drafts" lacks, from 4 papers it keeps against 32 others:'
    assert lines[1].startswith('  1. "acceptance rate"') and "in 3 of its papers; would have added 0" in lines[1]
    at = next(i for i, line in enumerate(lines) if '"speculative decoding"' in line)
    assert "in 3 of its papers; would have added 3" in lines[at]
    assert lines[at + 1] == "       - Speculative Decoding on Phones, Part 2 (arXiv 2502.00102)"


def test_a_profile_that_keeps_nothing_yet(make_config, tmp_path: Path) -> None:
    path = make_config('[[profile]]\nname = "new"\ndescription = "Tide tables of small harbours."\n')
    with Store(load_config(path).store_url) as store:
        store.ingest(Listing(background()), source="hand", hash_="h", captured=None, now=NOW)
    human = suggest("--config", str(path), "--profile", "new")
    assert human.exit_code == 0 and "keeps no papers yet" in human.stdout
    data = json.loads(suggest("--config", str(path), "--profile", "new", "--json").stdout)
    assert data["suggestions"] == [] and data["kept"] == 0


def test_no_store_or_no_profile_is_one_line(make_config) -> None:
    path = make_config(PROFILE)
    missing = suggest("--config", str(path), "--profile", "drafts")
    assert missing.exit_code == 1 and "no store yet" in missing.stderr and missing.stderr.count("\n") == 1
    unknown = suggest("--config", str(path), "--profile", "nobody")
    assert unknown.exit_code == 2 and 'no profile named "nobody"' in unknown.stderr


def test_the_score_grows_with_evidence_and_is_about_zero_without_a_difference() -> None:
    assert abs(offer_weight(5, 50, 105, 1050)) < 0.5  # 10% of the reader's papers, 10% of the others
    assert offer_weight(10, 20, 10, 1020) > offer_weight(5, 10, 5, 510) > offer_weight(2, 4, 2, 204) > 0
    assert offer_weight(1, 20, 501, 1020) < 0  # rarer among the reader's papers


def test_paper_text_cannot_break_the_terminal_output(config_path: Path) -> None:
    hostile = Paper("Speculative Decoding \x1b[31mred\x1b[0m\nInjected: line\r", "Speculative decoding, again.",
                    arxiv_id="2502.00200")
    with Store(load_config(config_path).store_url) as store:
        store.ingest(Listing([hostile]), source="hand", hash_="hostile", captured=None, now=NOW)
    out = suggest("--config", str(config_path), "--profile", "drafts").stdout
    assert "\x1b" not in out and "\r" not in out
    assert "       - Speculative Decoding [31mred [0m Injected: line (arXiv 2502.00200)" in out.splitlines()
