"""The layers DESIGN.md draws, read with `ast`: imports point one way, modules stay small.

front doors (ytarchive/cli/, ytarchive/web/, ytarchive/api.py, the package's __init__ and
__main__) -> deployments -> flows -> tasks -> the library (the rest of ytarchive/). A module may
import its own layer and the layers below it, never one above; no library module imports prefect.
Every import counts, also those inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ytarchive", "flows", "tasks", "deployments")
FRONT_DOORS = ("ytarchive.cli", "ytarchive.web", "ytarchive.api", "ytarchive", "ytarchive.__main__")
# Higher imports lower, never the other way.
RANK = {"library": 0, "tasks": 1, "flows": 2, "deployments": 3, "front door": 4}
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def modules() -> dict[str, Path]:
    """Every .py module of our four packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def layer(module: str) -> str | None:
    """Which layer a module of ours belongs to; None for a module that is not ours."""
    top = module.split(".")[0]
    if top in ("tasks", "flows", "deployments"):
        return top
    if top != "ytarchive":
        return None
    if any(module == door or module.startswith(door + ".") for door in FRONT_DOORS[:3]):
        return "front door"
    return "front door" if module in FRONT_DOORS[3:] else "library"


def imports(path: Path, name: str) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything the module imports.

    `from a import b` gives a.b when that is a module of ours, else a: `from ytarchive import
    layout` depends on ytarchive.layout, not on the package's front-door __init__.
    """
    ours = modules()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                package = name.split(".") if is_package else name.split(".")[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if sub in ours else base


def violations(rule) -> list[str]:
    found = []
    for name, path in modules().items():
        for line, target in imports(path, name):
            why = rule(name, target)
            if why:
                found.append(f"{path.relative_to(ROOT)}:{line}: {name} imports {target} ({why})")
    return sorted(set(found))


def upward(name: str, target: str) -> str | None:
    here, there = layer(name), layer(target)
    if here is None or there is None or RANK[there] <= RANK[here]:
        return None
    return f"{here} must not import {there}"


def prefect_in_library(name: str, target: str) -> str | None:
    if layer(name) == "library" and (target == "prefect" or target.startswith("prefect.")):
        return "the library never imports prefect"
    return None


def test_the_scanner_sees_imports_inside_functions_and_resolves_layers() -> None:
    """Guards the tests below against passing because they see nothing."""
    cmd = ROOT / "ytarchive" / "cli" / "cmd_recovery.py"
    seen = {target for _, target in imports(cmd, "ytarchive.cli.cmd_recovery")}
    assert "flows.runtime" in seen  # imported inside a function body
    assert "ytarchive" not in seen and "ytarchive.cli.app" in seen
    assert layer("ytarchive.cli.cmd_recovery") == "front door"
    assert layer("ytarchive") == "front door"
    assert layer("ytarchive.recovery") == "library"
    assert layer("ytarchive.api") == "front door"
    assert layer("prefect.flows") is None
    assert upward("flows.archive", "deployments.pool")
    assert upward("ytarchive.recovery", "flows.history")
    assert not upward("deployments.serve", "flows.runtime")
    assert prefect_in_library("ytarchive.recovery", "prefect.states")
    assert not prefect_in_library("flows.history", "prefect.states")
    assert len(modules()) > 30


def test_imports_point_one_way_from_the_front_doors_down_to_the_library() -> None:
    found = violations(upward)
    assert not found, "imports against the layers:\n" + "\n".join(found)


def test_no_library_module_imports_prefect() -> None:
    found = violations(prefect_in_library)
    assert not found, "prefect imported by the library:\n" + "\n".join(found)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_over_500_lines(package: str) -> None:
    lines = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    over = [f"{p}: {n} lines" for p, n in lines.items() if n > MAX_LINES]
    assert not over, f"modules over {MAX_LINES} lines:\n" + "\n".join(over)
