"""The command line through click's runner: the --json contract, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperdigest.cli import main

from .test_pipeline import LISTING_A, LISTING_B


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(main, list(args), catch_exceptions=False)


def test_every_command_has_help(runner: CliRunner) -> None:
    for cmd in ([], ["run"], ["ingest"], ["rank"], ["preview"], ["serve"], ["show"], ["suggest"]):
        result = invoke(runner, *cmd, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_ingest_json_contract(runner, make_config, snapshot_files, tmp_path: Path) -> None:
    cfg = make_config()
    bad = tmp_path / "bad.txt"
    bad.write_text("")
    result = invoke(runner, "ingest", "--config", str(cfg), "--json", *map(str, snapshot_files), str(bad))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert [s["papers"] for s in data["snapshots"]] == [78, 85, 119, 0]
    assert [s["new"] for s in data["snapshots"]] == [78, 66, 108, 0]
    assert data["new_papers"] == 252
    assert data["snapshots"][3]["error"].startswith(str(bad))
    assert set(data["snapshots"][0]) >= {"source", "papers", "new", "duplicate", "error"}
    again = invoke(runner, "ingest", "--config", str(cfg), "--json", str(snapshot_files[0]))
    assert again.exit_code == 0
    (snap,) = json.loads(again.stdout)["snapshots"]
    assert snap["duplicate"] is True and snap["new"] == 0


def test_rank_json_is_ordered_with_reasons_and_writes_nothing(runner, make_config, tmp_path: Path) -> None:
    listing = tmp_path / "a.txt"
    listing.write_text(LISTING_A + "\n" + LISTING_B.split("\n", 1)[1].replace("Subscribe", "", 1))
    cfg = make_config()
    result = invoke(runner, "rank", "--config", str(cfg), "--json", str(listing))
    assert result.exit_code == 0, result.output
    (prof,) = json.loads(result.stdout)["profiles"]
    scores = [i["score"] for i in prof["items"]]
    assert prof["name"] == "inference" and scores == sorted(scores, reverse=True) and len(scores) == 3
    assert all(i["matched"] for i in prof["items"])
    assert not (tmp_path / "state.db").exists()
    limited = json.loads(invoke(runner, "rank", "--config", str(cfg), "--json", "--limit", "1", str(listing)).stdout)
    assert len(limited["profiles"][0]["items"]) == 1
    unknown = invoke(runner, "rank", "--config", str(cfg), "--profile", "nope", str(listing))
    assert unknown.exit_code == 2 and 'no profile named "nope"' in unknown.stderr


def test_rank_ignores_store_statistics_from_an_older_text_analysis(runner, make_config, tmp_path: Path) -> None:
    from paperdigest.config import load_config
    from paperdigest.sources.parse import parse_listing
    from paperdigest.pipeline import TERM_STATS_BLOB
    from paperdigest.ranking import rank
    from paperdigest.store import Store

    listing = tmp_path / "a.txt"
    listing.write_text(LISTING_A)
    cfg = make_config()
    assert invoke(runner, "ingest", "--config", str(cfg), str(listing)).exit_code == 0
    with Store(load_config(cfg).store_url) as store:  # as an older release saved them: no analysis version
        store.save_blob(TERM_STATS_BLOB, '{"version": 1, "n_docs": 100000, "df": {"quantiz": 5}}', 3)
    result = invoke(runner, "rank", "--config", str(cfg), "--json", str(listing))
    assert result.exit_code == 0, result.output
    got = [(i["title"], i["score"]) for i in json.loads(result.stdout)["profiles"][0]["items"]]
    papers = parse_listing(listing.read_bytes(), name="a.txt").papers
    want = [(it.paper.title, round(it.score, 4)) for it in rank(papers, load_config(cfg).profiles)["inference"]]
    assert got == want  # IDF over the listing itself, not over the stale counts


def test_config_error_exits_2_with_one_line(runner, make_config) -> None:
    cfg = make_config('[[profile]]\nname = "x"\nkeywrds = { "a" = 1 }\n')
    result = invoke(runner, "run", "--config", str(cfg))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and '"keywrds"' in result.stderr
    assert "Traceback" not in result.stderr


def test_config_from_env_var(runner, make_config, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PAPERDIGEST_CONFIG", str(make_config()))
    listing = tmp_path / "a.txt"
    listing.write_text(LISTING_A)
    result = invoke(runner, "ingest", "--json", str(listing))
    assert result.exit_code == 0 and json.loads(result.stdout)["new_papers"] == 3


def test_usage_error_exits_2(runner) -> None:
    assert invoke(runner, "ingest").exit_code == 2
    assert invoke(runner, "rank", "--limit", "0", "x").exit_code == 2


def test_run_without_prefect_and_preview(runner, make_config, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PAPERDIGEST_NOW", "2026-11-25T07:00:00Z")
    listing = tmp_path / "a.txt"
    listing.write_text(LISTING_A)
    cfg = make_config()
    pre = invoke(runner, "preview", "--config", str(cfg), "--profile", "inference")
    assert pre.exit_code == 0 and "No new papers" in pre.output or "no new papers" in pre.output.lower()
    invoke(runner, "ingest", "--config", str(cfg), str(listing))
    for fmt in ("md", "text", "html", "rss"):
        out = invoke(runner, "preview", "--config", str(cfg), "--profile", "inference", "--format", fmt)
        assert out.exit_code == 0 and "Quantization Without Calibration Data" in out.output
    assert not (tmp_path / "out" / "outbox").exists()
    result = invoke(runner, "run", "--config", str(cfg), "--without-prefect", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (d,) = data["digests"]
    assert [i["title"] for i in d["items"]][:1] and [e["status"] for e in d["emails"]] == ["outbox", "outbox"]
    assert d["markdown"].endswith("2026-11-25.md")


def test_rank_as_a_process_flushes_everything_and_keeps_its_exit_code(make_config, tmp_path: Path) -> None:
    """The console script leaves ``rank`` through os._exit (see cli.rank): output must be whole."""
    import subprocess
    import sys

    listing = tmp_path / "a.txt"
    listing.write_text(LISTING_A)
    exe = Path(sys.executable).parent / "paperdigest"
    cfg = str(make_config())
    ok = subprocess.run([str(exe), "rank", "--config", cfg, "--json", str(listing)], capture_output=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["profiles"][0]["items"]) == 2
    bad = tmp_path / "empty.txt"
    bad.write_text("")
    failed = subprocess.run([str(exe), "rank", "--config", cfg, "--json", str(listing), str(bad)],
                            capture_output=True, timeout=120)
    assert failed.returncode == 1 and str(bad).encode() in failed.stderr
    assert len(json.loads(failed.stdout)["profiles"][0]["items"]) == 2
