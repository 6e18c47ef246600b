"""The wheel: one top-level package, everything the program reads at run time inside it, and a
program that works from it outside the source tree.

The wheel is built once per session from a copy of the source tree (so no build folder is left
in the checkout, and none left there can leak into the wheel) with ``pip wheel
--no-build-isolation``: offline, with the setuptools of the test environment. ``.ci/run`` goes further and installs it with its
dependencies into a new virtual environment; here it is unpacked with ``--no-deps`` into a
folder that comes first on ``PYTHONPATH``, which needs no network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "docs"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-q", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (built,) = out.glob("paperdigest-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's files, unpacked as pip installs them (no dependencies)."""
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check", "-q",
         "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return target


def _names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


def test_the_wheel_installs_exactly_one_top_level_package(wheel: Path) -> None:
    names = _names(wheel)
    tops = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"paperdigest"}
    with zipfile.ZipFile(wheel) as z:
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert z.read(top_level).decode().split() == ["paperdigest"]
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "paperdigest = paperdigest.cli:entry" in z.read(entry_points).decode()


def test_the_wheel_holds_every_module_template_and_starter_file(wheel: Path) -> None:
    names = set(_names(wheel))
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "paperdigest").rglob("*.py")}
    assert modules and modules <= names
    flows = {"paperdigest/flows/" + p.name for p in (ROOT / "flows").glob("*.py")}
    assert "paperdigest/flows/digest.py" in flows and flows <= names
    templates = {"paperdigest/templates/" + p.relative_to(ROOT / "templates").as_posix()
                 for p in (ROOT / "templates").rglob("*.j2")}
    assert "paperdigest/templates/digest.md.j2" in templates and templates <= names
    starter = {p.relative_to(ROOT).as_posix() for p in (ROOT / "paperdigest" / "starter").rglob("*") if p.is_file()}
    assert starter and starter <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_the_installed_wheel_inits_and_runs_outside_the_source_tree(installed: Path, tmp_path: Path) -> None:
    """From an empty folder: ``init`` writes a starter project whose config runs as it is."""
    work = tmp_path / "empty"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(installed), PAPERDIGEST_NOW="2026-11-30T07:00:00Z")
    env.pop("PAPERDIGEST_CONFIG", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "paperdigest", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300)

    where = subprocess.run([sys.executable, "-c", "import paperdigest; print(paperdigest.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(installed)  # the wheel's copy, not the checkout

    init = cli("init")
    assert init.returncode == 0, init.stderr
    assert (work / "config" / "paperdigest.toml").is_file() and (work / "listings" / "example.txt").is_file()
    run = cli("run", "--without-prefect", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    (digest,) = data["digests"]
    assert digest["items"] and Path(digest["markdown"]).is_file()
    assert [e["status"] for e in digest["emails"]] == ["outbox"]
    assert len(list((work / "var" / "out" / "outbox").glob("*.eml"))) == 1
    assert Path(digest["feed"]).is_file() and Path(digest["atom"]).is_file()
    assert not init.stderr and not run.stderr
