"""A paper's life in the store, through whole runs on real files, SQLite and the outbox: a
paper listed before its abstract exists, details filled in later, upvote history, weekly
digests and ``paperdigest show``. Every title and abstract here is invented."""

from __future__ import annotations

import email
import json
from datetime import datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import feedparser
import sqlalchemy as sa
from click.testing import CliRunner

from paperdigest.cli import main
from paperdigest.config import load_config
from paperdigest.pipeline import run_digest
from paperdigest.store import Store, deliveries, digest_items

from .conftest import NOW

FIXTURES = Path(__file__).parent / "fixtures"
DAY = timedelta(days=1)

WATCH = ("2611.00001", "Speculative Decoding on a Wristwatch")
WATCH_ABSTRACT = ("We run a language model on a wristwatch and let a drafter of two million parameters propose "
                  "tokens that the model checks in one pass. Replies arrive twice as fast on the watch.")
LOGS = ("2611.00002", "Quantization of Lighthouse Keeper Logs",
        "We quantize a small model that reads lighthouse keeper logs to four bits. It keeps its accuracy and fits "
        "on the keeper's old laptop.")


def jsonfeed(*items: tuple[str, str, str]) -> bytes:
    """A JSON Feed in the shape of the Hugging Face papers feed: (arXiv id, title, content_text)."""
    return json.dumps({"version": "https://jsonfeed.org/version/1", "title": "Invented papers", "items": [
        {"id": f"https://huggingface.co/papers/{a}", "url": f"https://huggingface.co/papers/{a}", "title": t,
         "content_text": text, "date_published": "2026-11-24T06:00:00Z"} for a, t, text in items]}).encode()


def hf_api(*papers: dict[str, Any]) -> bytes:
    """The daily-papers API: each dict holds id, title, summary (may be missing), upvotes."""
    return json.dumps([{"paper": dict(p, authors=[{"name": "Ada Invented"}],
                                      publishedAt=p.get("publishedAt", "2026-11-24T06:00:00Z"))}
                       for p in papers]).encode()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def run(cfg: Path, paths: list[Path], now: datetime) -> dict[str, Any]:
    return run_digest(load_config(cfg), extra_snapshots=[str(p) for p in paths], now=now).to_json()


def outbox(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "out" / "outbox").glob("*.eml"))


def bodies(path: Path) -> tuple[str, str]:
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return text, html


def entry(feed_path: Path, title: str) -> Any:
    parsed = feedparser.parse(feed_path.read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    (found,) = [e for e in parsed.entries if e.title == title]
    return found


# --------------------------------------------------------------------------- title only, then filled


def test_title_only_paper_is_matched_shown_then_filled_without_a_new_email(make_config, tmp_path: Path) -> None:
    cfg = make_config()
    first = run(cfg, [write(tmp_path / "d1.json", jsonfeed((*WATCH, ""), LOGS))], NOW)
    (snap,) = first["snapshots"]
    assert (snap["papers"], snap["new"], snap["error"], snap["updated"]) == (2, 2, None, 0)
    (digest,) = first["digests"]
    item = next(i for i in digest["items"] if i["title"] == WATCH[1])
    assert item["why"].startswith("speculative decoding (title, +")  # ranked on its title alone
    assert (item["abstract_available"], item["sightings"], item["rank_value"]) == (False, "listed 1 day", None)

    md = Path(digest["markdown"]).read_text()
    section = md.split(f"[{WATCH[1]}]")[1].split("## ")[0]
    assert "*Abstract not yet available.*" in section
    mails = outbox(tmp_path)
    assert len(mails) == 2  # alice and bob
    text, html = bodies(mails[0])
    assert "Abstract not yet available." in text.split(WATCH[1])[1]
    assert "Abstract not yet available." in html.split(WATCH[1])[1]
    feeds = tmp_path / "out" / "feeds"
    assert "Abstract not yet available." in entry(feeds / "inference.xml", WATCH[1]).description
    before = entry(feeds / "inference.atom", WATCH[1])
    assert "Abstract not yet available." in before.content[0].value
    sent = [p.read_bytes() for p in mails]

    # The next day's capture brings the abstract: an update, not a new paper, and no email.
    later = NOW + DAY
    second = run(cfg, [write(tmp_path / "d2.json", jsonfeed((*WATCH, WATCH_ABSTRACT), LOGS))], later)
    (snap,) = second["snapshots"]
    assert (snap["papers"], snap["new"], snap["updated"]) == (2, 0, 1)
    assert second["digests"][0]["items"] == [] and second["digests"][0]["emails"] == []
    assert [p.read_bytes() for p in outbox(tmp_path)] == sent
    with Store(load_config(cfg).store_url) as store, store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(digest_items)).scalar_one() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar_one() == 2

    for kind in ("xml", "atom"):  # same id, new content; Atom says when it changed
        now_entry = entry(feeds / f"inference.{kind}", WATCH[1])
        body = now_entry.content[0].value if kind == "atom" else now_entry.description
        assert WATCH_ABSTRACT[:60] in body and "not yet available" not in body
    after = entry(feeds / "inference.atom", WATCH[1])
    assert after.id == before.id
    assert after.published_parsed[:6] == before.published_parsed[:6] == NOW.timetuple()[:6]
    assert after.updated_parsed[:6] == later.timetuple()[:6] and before.updated_parsed[:6] == NOW.timetuple()[:6]
    untouched = entry(feeds / "inference.atom", LOGS[1])
    assert untouched.updated_parsed[:6] == NOW.timetuple()[:6]


# --------------------------------------------------------------------------- upvote history


def _api_capture(upvotes: int) -> bytes:
    """The HF API fixture with its first paper's upvotes set."""
    items = json.loads((FIXTURES / "parse" / "hf_api.json").read_bytes())
    items[0]["paper"]["upvotes"] = upvotes
    return json.dumps(items).encode()


REASONING = """
[[profile]]
name = "reasoning"
title = "Reasoning"
keywords = { "reasoning" = 2 }
"""


def test_upvote_history_from_the_hf_api(make_config, tmp_path: Path) -> None:
    cfg = make_config(REASONING.replace('name = "reasoning"', 'name = "later"'))
    readings = [(NOW, 42), (NOW + DAY, 50), (NOW + DAY + timedelta(hours=8), 60), (NOW + 2 * DAY, 90)]
    for n, (when, votes) in enumerate(readings):
        report = run(cfg, [write(tmp_path / f"api-{n}.json", _api_capture(votes))], when)
        assert report["snapshots"][0]["error"] is None
    # A JSON Feed lists the same paper: a sighting without upvotes, which erases nothing.
    feed = jsonfeed(("2502.11111", "Slow Thinking, Fast Retrieval: Caching Intermediate Thoughts", "Reasoning."))
    run(cfg, [write(tmp_path / "feed.json", feed)], NOW + 2 * DAY + timedelta(hours=2))

    with Store(load_config(cfg).store_url) as store:
        (pid,) = store.find_papers("2502.11111")
        history = store.readings([pid])[pid]
        (_, paper), = [(i, p) for i, p in store.papers_after(0) if i == pid]
    assert [(t, u) for t, u in history] == readings + [(NOW + 2 * DAY + timedelta(hours=2), None)]
    assert paper.upvotes == 90

    # A new profile's first digest (the backfill) shows what the listings said, as the next run would.
    cfg2 = make_config(REASONING, name="with-reasoning.toml")
    result = CliRunner().invoke(main, ["preview", "--config", str(cfg2), "--profile", "reasoning"],
                                env={"PAPERDIGEST_NOW": (NOW + 2 * DAY + timedelta(hours=3)).isoformat()})
    assert result.exit_code == 0, result.output
    assert "listed 3 days · ▲ 90 (+30 since yesterday)" in result.output

    shown = json.loads(CliRunner().invoke(main, ["show", "--config", str(cfg), "--json", "2502.11111"],
                                          env={"PAPERDIGEST_NOW": (NOW + 2 * DAY).isoformat()}).stdout)
    (p,) = shown["papers"]
    assert [s["upvotes"] for s in p["sightings"]["list"]] == [42, 50, 60, 90, None]
    assert [s["gives_upvotes"] for s in p["sightings"]["list"]] == [True] * 4 + [False]
    assert p["fields"]["upvotes"]["value"] == 90 and p["fields"]["upvotes"]["how"] == "latest reading"
    assert p["sightings"]["shown"] == "listed 3 days · ▲ 90 (+30 since yesterday)"


# --------------------------------------------------------------------------- weekly digests


WEEKLY = """
[store]
url = "sqlite:///state.db"

[output]
dir = "out"

[[profile]]
name = "weekly"
title = "Quantization, weekly"
recipients = ["alice@example.org", "bob@example.org"]
keywords = { "quantization" = 3 }
digest = "weekly"
week_day = "wednesday"
momentum = 0.5
"""


def _day_capture(day: int) -> bytes:
    """Day ``day``'s listing: two new quantization papers and one on something else, plus the
    quantization papers of the two days before, gaining upvotes."""
    papers = []
    for d in range(max(0, day - 2), day + 1):
        for k in range(2):
            papers.append({"id": f"2611.{d:03d}{k}1", "title": f"Quantization Trick {k + 1} of Day {d + 1}",
                           "summary": f"We quantize model {d}-{k} to four bits. It keeps its accuracy.",
                           "upvotes": 5 * (day - d + 1) * (k + 1)})
    papers.append({"id": f"2611.{day:03d}99", "title": f"Kelp Forests Seen on Day {day + 1}",
                   "summary": "We map kelp forests from drones. Nothing about models."})
    return hf_api(*papers)


def test_weekly_digest_over_seven_daily_captures_sends_each_paper_once(make_config, tmp_path: Path) -> None:
    cfg = make_config(base=WEEKLY)
    digests: dict[int, str | None] = {}
    for day in range(8):  # Wednesday 2026-11-25 to Wednesday 2026-12-02
        report = run(cfg, [write(tmp_path / f"day-{day}.json", _day_capture(day))], NOW + day * DAY)
        digests[day] = report["digests"][0]["digest"]
        if day in (3, 7):  # an operator's second run the same day (a manual one): no weekly digest
            extra = run(cfg, [], NOW + day * DAY + timedelta(hours=6))
            assert extra["digests"][0]["digest"] is None and extra["digests"][0]["emails"] == []
    # A new weekly profile's first digest comes at its first run; then one each week_day.
    assert digests == {0: "weekly/2026-11-25", 1: None, 2: None, 3: None, 4: None, 5: None, 6: None,
                       7: "weekly/2026-12-02"}
    assert len(outbox(tmp_path)) == 4  # two digests, two readers, one email each

    with Store(load_config(cfg).store_url) as store:
        ids = {key: store.digest_view(i) for key, i in _digest_ids(store).items()}
    first, week = ids["weekly/2026-11-25"], ids["weekly/2026-12-02"]
    titles = [it.paper.title for it in first.items] + [it.paper.title for it in week.items]
    expected = {f"Quantization Trick {k + 1} of Day {d + 1}" for d in range(8) for k in range(2)}
    assert sorted(titles) == sorted(expected)  # every matching paper once, none twice
    assert {it.paper.title for it in first.items} == {"Quantization Trick 1 of Day 1", "Quantization Trick 2 of Day 1"}
    # The week's digest carries each paper's sightings, and its order blends in momentum.
    seen = {it.paper.title: it for it in week.items}
    day2 = seen["Quantization Trick 2 of Day 2"]
    assert day2.sightings is not None and day2.sightings.describe() == "listed 3 days · ▲ 30 (+10 since Nov 27)"
    assert all(it.blend is not None and "ranked on momentum" in it.why() for it in week.items)
    assert [it.blend.value for it in week.items] == sorted((it.blend.value for it in week.items), reverse=True)
    md = (tmp_path / "out" / "digests" / "weekly" / "2026-12-02.md").read_text()
    assert "listed 3 days · ▲ 30 (+10 since Nov 27)" in md


def _digest_ids(store: Store) -> dict[str, int]:
    from paperdigest.store import digests

    with store.engine.connect() as conn:
        return {r.digest_key: r.id for r in conn.execute(sa.select(digests.c.digest_key, digests.c.id))}


# --------------------------------------------------------------------------- show


def test_show_a_paper_sent_to_two_readers(make_config, tmp_path: Path) -> None:
    cfg = make_config('[[profile]]\nname = "kelp"\nrecipients = ["carol@example.org"]\nkeywords = { "kelp" = 1 }\n')
    run(cfg, [write(tmp_path / "d1.json", jsonfeed((*WATCH, ""), LOGS))], NOW)
    run(cfg, [write(tmp_path / "d2.json", jsonfeed((*WATCH, WATCH_ABSTRACT)))], NOW + DAY)
    runner = CliRunner()

    result = runner.invoke(main, ["show", "--config", str(cfg), "--json", WATCH[0]])
    assert result.exit_code == 0, result.output
    (p,) = json.loads(result.stdout)["papers"]
    assert p["uid"] == f"arxiv:{WATCH[0]}" and p["paper"]["abstract"] == WATCH_ABSTRACT
    title, abstract = p["fields"]["title"], p["fields"]["abstract"]
    assert (title["how"], title["source"], title["at"]) == ("first seen", str(tmp_path / "d1.json"), NOW.isoformat())
    assert (abstract["how"], abstract["source"], abstract["at"]) == ("filled", str(tmp_path / "d2.json"),
                                                                      (NOW + DAY).isoformat())
    assert [(c["field"], c["previous"]) for c in p["changes"]] == [("abstract", None)]
    assert (p["sightings"]["captures"], p["sightings"]["days"]) == (2, 2)
    assert [s["upvotes"] for s in p["sightings"]["list"]] == [None, None]  # a JSON Feed gives none
    assert p["fields"]["upvotes"]["how"] == "not given by its sources (jsonfeed)"
    (d,) = p["digests"]
    assert d["digest"] == "inference/2026-11-25" and d["why"].startswith("speculative decoding (title")
    assert sorted((x["to"], x["status"], x["channel"]) for x in d["deliveries"]) == [
        ("alice@example.org", "sent", "outbox"), ("bob@example.org", "sent", "outbox")]
    statuses = {x["profile"]: x for x in p["profiles"]}
    assert statuses["inference"]["status"] == "in a digest"
    assert statuses["kelp"]["status"] == "considered, not chosen"
    assert statuses["kelp"]["reason"] == "matched no keyword, or an exclude term"

    by_title = runner.invoke(main, ["show", "--config", str(cfg), WATCH[1].upper()])
    by_uid = runner.invoke(main, ["show", "--config", str(cfg), f"arxiv:{WATCH[0]}"])
    assert by_title.exit_code == by_uid.exit_code == 0 and by_title.output == by_uid.output
    assert "alice@example.org: sent" in by_title.output and "bob@example.org: sent" in by_title.output
    assert "abstract filled by" in by_title.output and "kelp: considered, not chosen" in by_title.output

    nothing = runner.invoke(main, ["show", "--config", str(tmp_path / "none.toml"), "x"])
    assert nothing.exit_code == 2  # no such config
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "c.toml").write_text('[store]\nurl = "sqlite:///none.db"\n')
    no_store = runner.invoke(main, ["show", "--config", str(empty / "c.toml"), "x"])
    assert no_store.exit_code == 1 and "show: no store at" in no_store.stderr
    assert not (empty / "none.db").exists()  # asking created nothing

    missing = runner.invoke(main, ["show", "--config", str(cfg), "2611.99999"])
    assert missing.exit_code == 1 and missing.stdout == "" and missing.stderr.count("\n") == 1
    assert missing.stderr.startswith('paperdigest: error: show: no paper in the store matches "2611.99999"')


def test_week_start_is_the_last_week_day_on_or_before_the_day() -> None:
    from dataclasses import replace

    from paperdigest.config import Profile
    from paperdigest.pipeline.cadence import week_start

    weekly = Profile(name="w", title="W", keywords={"a": 1}, digest="weekly", week_day="wednesday")
    wed = NOW.date()  # 2026-11-25, a Wednesday
    assert [week_start(weekly, wed + d * DAY) for d in range(8)] == [wed] * 7 + [wed + 7 * DAY]
    assert week_start(replace(weekly, week_day="friday"), wed) == wed - 5 * DAY
    assert week_start(replace(weekly, digest="daily"), wed) is None


def test_two_runs_make_one_weekly_digest(tmp_path: Path) -> None:
    """The week is checked in the transaction that moves the cursor: a run that read the
    cursor after another run's weekly digest still makes none."""
    from paperdigest.models import Listing, Paper

    with Store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        store.ingest(Listing([Paper("Coral Spawning Timers")]), source="s", hash_="1" * 64, captured=None, now=NOW)
        args = dict(profile="w", profile_title="W", day=NOW.date(), now=NOW, new_papers=1, matched=0, items=[],
                    recipients=["alice@example.org"], none_since=NOW.date())
        first = store.create_digest(expected_cursor=None, new_cursor=1, **args)  # type: ignore[arg-type]
        store.ingest(Listing([Paper("Moss Carbon Uptake")]), source="s", hash_="2" * 64, captured=None, now=NOW)
        second = store.create_digest(expected_cursor=1, new_cursor=2, **args)  # type: ignore[arg-type]
        assert first is not None and second is None
        assert store.profile_cursor("w") == 1  # the second paper waits for next week's digest
