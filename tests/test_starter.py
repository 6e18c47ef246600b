"""``paperdigest init``, ``--version`` and a newsletter's own templates (``[output] templates``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import paperdigest
from paperdigest.cli import main
from paperdigest.cli.starter import STARTER_FILES

from .test_pipeline import LISTING_A


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"paperdigest, version {paperdigest.__version__}"


def test_init_writes_a_project_that_runs_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("init")
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == sorted(STARTER_FILES)
    assert "#" in (tmp_path / "config" / "paperdigest.toml").read_text()  # commented for a reader
    # The default config path finds it: no --config needed.
    run = invoke("run", "--without-prefect", "--json", env={"PAPERDIGEST_NOW": "2026-11-30T07:00:00Z"})
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert data["new_papers"] >= 3 and not data["failed"]
    (digest,) = data["digests"]
    assert digest["items"] and all(item["matched"] for item in digest["items"])
    assert [e["status"] for e in digest["emails"]] == ["outbox"]
    assert Path(digest["markdown"]).is_file() and Path(digest["feed"]).is_file()


def test_init_into_a_new_folder(tmp_path: Path) -> None:
    result = invoke("init", str(tmp_path / "news" / "letter"))
    assert result.exit_code == 0
    assert (tmp_path / "news" / "letter" / "config" / "paperdigest.toml").is_file()
    assert "cd " in result.output  # says how to get there


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "listings").mkdir()
    mine = tmp_path / "listings" / "example.txt"
    mine.write_text("my own listing")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "example.txt" in line and "already exists" in line
    assert mine.read_text() == "my own listing"
    assert not (tmp_path / "config").exists()  # nothing written when one file is taken


def test_init_into_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    result = CliRunner().invoke(main, ["init", str(target)])
    assert result.exit_code == 2 and "Traceback" not in result.output


# --------------------------------------------------------------------------- custom templates


def _write(make_config, folder: Path) -> Path:
    cfg = make_config()
    text = cfg.read_text().replace('[output]\ndir = "out"', f'[output]\ndir = "out"\ntemplates = "{folder}"')
    cfg.write_text(text)
    return cfg


def test_custom_templates_override_by_name_and_fall_back(make_config, tmp_path: Path) -> None:
    folder = tmp_path / "mytemplates"
    folder.mkdir()
    (folder / "digest.md.j2").write_text("# The Weekly Lab Letter: {{ title }}\n{% for item in items %}"
                                         "- {{ item.title }}\n{% endfor %}")
    cfg = _write(make_config, folder)
    (tmp_path / "a.txt").write_text(LISTING_A)
    result = invoke("run", "--config", str(cfg), "--without-prefect", "--json", "--snapshot", str(tmp_path / "a.txt"))
    assert result.exit_code == 0, result.output
    digest = json.loads(result.stdout)["digests"][0]
    md = Path(digest["markdown"]).read_text()
    assert md.startswith("# The Weekly Lab Letter: Efficient inference\n")
    assert all(f"- {item['title']}" in md for item in digest["items"])
    # The email templates were not overridden: the built-in ones render them.
    eml = next((tmp_path / "out" / "outbox").glob("*.eml")).read_text()
    assert "paper digest for" in eml and "Weekly Lab Letter" not in eml


@pytest.mark.parametrize("name, text, line", [
    ("digest.md.j2", "# {{ title }}\n\n{% for item in items %}\n{{ item.title }\n{% endfor %}\n", 4),
    ("email.txt.j2", "Hello\n{{ no_such_value }}\n", 2),
    ("partials/email_body.html.j2", "<p>{{ items|first|attr('title')|nosuchfilter }}</p>\n", 1),
])
def test_a_broken_template_is_a_config_error_naming_file_and_line(make_config, tmp_path: Path, name: str, text: str,
                                                                   line: int) -> None:
    folder = tmp_path / "broken"
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    cfg = _write(make_config, folder)
    (tmp_path / "a.txt").write_text(LISTING_A)
    result = CliRunner().invoke(main, ["run", "--config", str(cfg), "--without-prefect", "--snapshot",
                                       str(tmp_path / "a.txt")])
    assert result.exit_code == 2
    (err,) = result.output.strip().splitlines()
    assert f"{folder / name}:{line}" in err and "Traceback" not in result.output
    assert not (tmp_path / "state.db").exists()  # refused before the run touched the store


def test_a_templates_key_that_is_no_folder_is_refused(make_config, tmp_path: Path) -> None:
    cfg = _write(make_config, tmp_path / "missing")
    result = CliRunner().invoke(main, ["preview", "--config", str(cfg), "--profile", "inference"])
    assert result.exit_code == 2
    assert 'output: key "templates" is not a folder' in result.output
