"""The architecture of the README holds in the code: imports go downwards only, and only the
flows import Prefect. Read from the source (``ast``), so a lazy import inside a function counts."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "paperdigest"
BASE = {"config", "models", "errors", "files", "resources", "__init__"}
# What each part of the package may import from the others (the README's table).
ALLOWED: dict[str, set[str]] = {
    "cli": {"web", "pipeline", "sources", "store", "ranking", "delivery", "flows"} | BASE,
    "web": {"pipeline", "sources", "store", "ranking", "delivery"} | BASE,
    "pipeline": {"sources", "store", "ranking", "delivery"} | BASE,
    "sources": BASE,
    "store": BASE,
    "ranking": BASE,
    "delivery": BASE,
    "config": {"errors", "__init__"},
    "models": set(),
    "errors": set(),
    "files": {"errors"},
    "resources": {"errors"},
    "__main__": {"cli"},
    "__init__": set(),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "paperdigest":
                found.update(f"paperdigest.{a.name}" for a in node.names)
    return found


def _part(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _target(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "paperdigest":
        return None
    if len(parts) == 1 or parts[1] in ("__version__", "USER_AGENT"):
        return "__init__"
    return parts[1]


def test_every_part_of_the_package_is_placed_in_the_architecture() -> None:
    parts = {_part(p) for p in PACKAGE.rglob("*.py")}
    assert parts <= set(ALLOWED), f"not in the README's architecture: {sorted(parts - set(ALLOWED))}"


def test_imports_go_downwards_only() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = _part(path)
        for module in _imports(path):
            target = _target(module)
            if target is not None and target != part and target not in ALLOWED[part]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_parts_import_no_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        for module in _imports(path):
            target = _target(module)
            if target is not None and target != _part(path):
                graph[_part(path)].add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    assert not [p for p in list(graph) if reaches(p, p, {p})]


def test_only_the_flows_import_prefect() -> None:
    core = [p for p in PACKAGE.rglob("*.py") if any(m.split(".")[0] == "prefect" for m in _imports(p))]
    assert core == []
    assert any(m.split(".")[0] == "prefect" for m in _imports(ROOT / "flows" / "digest.py"))
